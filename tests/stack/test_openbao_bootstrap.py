"""OpenBao as `make run` sets it up: raft storage, init/unseal, restart, AppRole and its narrow policy."""

from __future__ import annotations

import base64
import json
import re
import shutil
import stat
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest

from codec.keyring import Keyring
from codec.vault_keys import KEYRING_PATH
from stack.openbao import OpenBaoServer
from stack.openbao_setup import (
    APPROLE_MOUNT,
    KV_MAX_VERSIONS,
    KV_MOUNT,
    POLICY,
    POLICY_NAME,
    ROLE_NAME,
    TRANSIT_KEY,
    TRANSIT_MOUNT,
    AppRoleCredentials,
    OpenBaoSetupError,
    configure,
    write_private_json,
)
from tests.support.servers import free_port
from vault import token_store

OTHER_KV = "not-the-service-kv"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _service_client(server: OpenBaoServer) -> hvac.Client:
    client = hvac.Client(url=server.addr)
    client.auth.approle.login(server.role_id, server.secret_id)
    return client


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_restart_unseals_with_stored_key_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "openbao"
    port, cluster_port = free_port(), free_port()
    first = OpenBaoServer.create(data_dir, port, cluster_port).start()
    try:
        client = _service_client(first)
        client.secrets.kv.v2.create_or_update_secret(
            "connections/c1/tokens", secret={"refresh": "r-1"}, mount_point=KV_MOUNT
        )
        init_before = (data_dir / "init.json").read_text()
        approle_before = json.loads((data_dir / "approle.json").read_text())
    finally:
        assert first.stop() == 0

    second = OpenBaoServer.create(data_dir, port, cluster_port).start()
    try:
        assert not hvac.Client(url=second.addr).sys.is_sealed()
        # Same key material, and the still-valid secret_id is reused rather than multiplied.
        assert (data_dir / "init.json").read_text() == init_before
        assert second.credentials is not None
        assert second.credentials.model_dump() == approle_before
        client = _service_client(second)
        read = client.secrets.kv.v2.read_secret_version(
            "connections/c1/tokens", mount_point=KV_MOUNT, raise_on_deleted_version=True
        )
        assert read["data"]["data"] == {"refresh": "r-1"}
    finally:
        second.stop()


def test_secret_files_and_data_dir_are_private(openbao: OpenBaoServer) -> None:
    data_dir = openbao.layout.data_dir
    assert _mode(data_dir) == 0o700
    for name in ("init.json", "approle.json"):
        assert _mode(data_dir / name) == 0o600, name
    # The service's credentials file never holds the root token.
    assert openbao.root_token not in (data_dir / "approle.json").read_text()


def test_configure_is_idempotent(openbao: OpenBaoServer) -> None:
    service = _service_client(openbao)
    again = configure(openbao.addr, openbao.root_token, openbao.layout.data_dir)
    assert again.role_id == openbao.role_id
    assert again.secret_id == openbao.secret_id
    # Only the one upgrade from a legacy role revokes tokens: a running service keeps its token.
    assert service.auth.token.lookup_self()["data"]["policies"] == [POLICY_NAME]


def test_invalid_stored_secret_id_is_replaced(openbao: OpenBaoServer, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    write_private_json(
        state_dir / "approle.json",
        AppRoleCredentials(role_id=openbao.role_id, secret_id="00000000-0000-0000-0000-000000000000"),
    )
    fresh = configure(openbao.addr, openbao.root_token, state_dir)
    assert fresh.secret_id != "00000000-0000-0000-0000-000000000000"
    hvac.Client(url=openbao.addr).auth.approle.login(fresh.role_id, fresh.secret_id)
    assert json.loads((state_dir / "approle.json").read_text())["secret_id"] == fresh.secret_id


def test_approle_token_has_only_the_service_policy(openbao: OpenBaoServer) -> None:
    client = _service_client(openbao)
    me = client.auth.token.lookup_self()["data"]
    # Not even `default` (cubbyhole, sys/wrapping, sys/tools, capabilities-self...): only what vault/ needs.
    assert me["policies"] == [POLICY_NAME]
    assert not me.get("identity_policies")
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    role = root.auth.approle.read_role(ROLE_NAME, mount_point=APPROLE_MOUNT)["data"]
    assert role["token_no_default_policy"] is True
    assert role["token_policies"] == [POLICY_NAME]
    assert root.sys.read_policy(POLICY_NAME)["data"]["rules"] == POLICY


def test_policy_names_exactly_the_token_store_layout() -> None:
    granted = set(re.findall(r'path "[^"]*/connections/\+/([^"/]+)"', POLICY))
    assert granted == set(token_store.CONNECTION_SECRETS)


def test_kv_mount_keeps_only_the_newest_version(openbao: OpenBaoServer) -> None:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    config = root.secrets.kv.v2.read_configuration(mount_point=KV_MOUNT)["data"]
    assert config["max_versions"] == KV_MAX_VERSIONS == 1


def test_policy_allows_each_operation_the_service_performs(openbao: OpenBaoServer) -> None:
    client = _service_client(openbao)
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    kv = client.secrets.kv.v2
    for name in token_store.CONNECTION_SECRETS:
        path = f"connections/allowed/{name}"
        # create (first write, check-and-set 0), read, update (check-and-set on the version read).
        assert (
            kv.create_or_update_secret(path, secret={"v": "1"}, cas=0, mount_point=KV_MOUNT)["data"][
                "version"
            ]
            == 1
        )
        read = kv.read_secret_version(path, mount_point=KV_MOUNT, raise_on_deleted_version=True)
        assert read["data"]["data"] == {"v": "1"}
        kv.create_or_update_secret(path, secret={"v": "2"}, cas=1, mount_point=KV_MOUNT)
        with pytest.raises(InvalidRequest, match="check-and-set"):
            kv.create_or_update_secret(path, secret={"v": "stale"}, cas=1, mount_point=KV_MOUNT)
        kv.create_or_update_secret(path, secret={"v": "3"}, mount_point=KV_MOUNT)  # no CAS (clientState)
        # destroy every version and the metadata (disconnect)
        kv.delete_metadata_and_all_versions(path, mount_point=KV_MOUNT)
        with pytest.raises(InvalidPath):
            root.secrets.kv.v2.read_secret_metadata(path, mount_point=KV_MOUNT)

    encrypted = client.secrets.transit.encrypt_data(
        TRANSIT_KEY, _b64("token"), context=_b64("c1"), mount_point=TRANSIT_MOUNT
    )["data"]["ciphertext"]
    decrypted = client.secrets.transit.decrypt_data(
        TRANSIT_KEY, encrypted, context=_b64("c1"), mount_point=TRANSIT_MOUNT
    )["data"]["plaintext"]
    assert base64.b64decode(decrypted).decode() == "token"

    # The payload codec's keyring: read only (operators rotate it with a privileged token).
    keyring = kv.read_secret_version(KEYRING_PATH, mount_point=KV_MOUNT, raise_on_deleted_version=True)
    assert Keyring.from_dict(keyring["data"]["data"]).current

    # Its own token: renew (vault/client.py), look up and revoke (the readiness check).
    assert client.auth.token.renew_self()["auth"]["policies"] == [POLICY_NAME]
    assert client.auth.token.lookup_self()["data"]["policies"] == [POLICY_NAME]
    client.auth.token.revoke_self()
    with pytest.raises(Forbidden):
        client.auth.token.lookup_self()


DENIED = [
    # sys/ and auth administration
    ("GET", "sys/mounts", None),
    ("GET", "sys/auth", None),
    ("GET", "sys/policy", None),
    ("GET", "sys/policies/acl", None),
    ("POST", "sys/mounts/other", {"type": "kv"}),
    ("PUT", "sys/policy/outlook-integration", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
    ("PUT", "sys/seal", None),
    ("GET", "auth/approle/role/outlook-integration/role-id", None),
    ("POST", "auth/approle/role/outlook-integration/secret-id", {}),
    ("POST", "auth/approle/role/outlook-integration", {"token_policies": ["root"]}),
    ("POST", "auth/token/create", {}),
    ("POST", "auth/token/lookup", {"token": "x"}),
    # what the `default` policy would have granted
    ("POST", "sys/capabilities-self", {"paths": ["outlook-kv/data/connections/x/tokens"]}),
    ("GET", "sys/internal/ui/resultant-acl", None),
    ("POST", "sys/tools/hash", {"input": "eA=="}),
    ("POST", "sys/wrapping/wrap", {"x": "y"}),
    ("PUT", "sys/leases/lookup", {"lease_id": "x"}),
    ("POST", "cubbyhole/x", {"v": "1"}),
    ("GET", "cubbyhole/x", None),
    # KV: other paths, other keys, and every operation besides read/write/destroy-all
    ("POST", f"{KV_MOUNT}/data/other/x", {"data": {"v": "1"}}),
    ("GET", f"{KV_MOUNT}/data/other/x", None),
    ("POST", f"{KV_MOUNT}/data/connections-evil/x", {"data": {"v": "1"}}),
    ("POST", f"{KV_MOUNT}/data/connections/tokens", {"data": {"v": "1"}}),
    ("POST", f"{KV_MOUNT}/data/connections/c1/other", {"data": {"v": "1"}}),
    ("POST", f"{KV_MOUNT}/data/connections/c1/x/tokens", {"data": {"v": "1"}}),
    ("GET", f"{KV_MOUNT}/metadata/connections/c1/tokens", None),
    ("POST", f"{KV_MOUNT}/metadata/connections/c1/tokens", {"max_versions": 10}),
    ("DELETE", f"{KV_MOUNT}/data/connections/c1/tokens", None),
    ("POST", f"{KV_MOUNT}/delete/connections/c1/tokens", {"versions": [1]}),
    ("POST", f"{KV_MOUNT}/undelete/connections/c1/tokens", {"versions": [1]}),
    ("POST", f"{KV_MOUNT}/destroy/connections/c1/tokens", {"versions": [1]}),
    ("LIST", f"{KV_MOUNT}/metadata/connections", None),
    ("LIST", f"{KV_MOUNT}/metadata/connections/c1", None),
    ("DELETE", f"{KV_MOUNT}/metadata/connections/c1/other", None),
    ("GET", f"{KV_MOUNT}/config", None),
    ("POST", f"{KV_MOUNT}/config", {"max_versions": 10}),
    # KV: the payload codec's keyring is read only; nothing next to or under it
    ("POST", f"{KV_MOUNT}/data/{KEYRING_PATH}", {"data": {"v": "1"}}),
    ("PUT", f"{KV_MOUNT}/data/{KEYRING_PATH}", {"data": {"v": "1"}}),
    ("DELETE", f"{KV_MOUNT}/data/{KEYRING_PATH}", None),
    ("GET", f"{KV_MOUNT}/metadata/{KEYRING_PATH}", None),
    ("POST", f"{KV_MOUNT}/metadata/{KEYRING_PATH}", {"max_versions": 10}),
    ("DELETE", f"{KV_MOUNT}/metadata/{KEYRING_PATH}", None),
    ("POST", f"{KV_MOUNT}/delete/{KEYRING_PATH}", {"versions": [1]}),
    ("POST", f"{KV_MOUNT}/undelete/{KEYRING_PATH}", {"versions": [1]}),
    ("POST", f"{KV_MOUNT}/destroy/{KEYRING_PATH}", {"versions": [1]}),
    ("LIST", f"{KV_MOUNT}/metadata/temporal-codec", None),
    ("GET", f"{KV_MOUNT}/data/temporal-codec/other", None),
    ("GET", f"{KV_MOUNT}/data/{KEYRING_PATH}/x", None),
    # another mount
    ("GET", f"{OTHER_KV}/data/connections/c1/tokens", None),
    ("POST", f"{OTHER_KV}/data/connections/c1/tokens", {"data": {"v": "1"}}),
    ("GET", f"{OTHER_KV}/data/{KEYRING_PATH}", None),
    # Transit: key management, other keys, other operations with the key
    ("GET", f"{TRANSIT_MOUNT}/keys/{TRANSIT_KEY}", None),
    ("LIST", f"{TRANSIT_MOUNT}/keys", None),
    ("POST", f"{TRANSIT_MOUNT}/keys/another", {}),
    ("POST", f"{TRANSIT_MOUNT}/keys/{TRANSIT_KEY}/rotate", {}),
    ("POST", f"{TRANSIT_MOUNT}/keys/{TRANSIT_KEY}/config", {"deletion_allowed": True}),
    ("DELETE", f"{TRANSIT_MOUNT}/keys/{TRANSIT_KEY}", None),
    ("GET", f"{TRANSIT_MOUNT}/export/encryption-key/{TRANSIT_KEY}", None),
    ("GET", f"{TRANSIT_MOUNT}/backup/{TRANSIT_KEY}", None),
    ("POST", f"{TRANSIT_MOUNT}/datakey/plaintext/{TRANSIT_KEY}", {"context": "eA=="}),
    ("POST", f"{TRANSIT_MOUNT}/rewrap/{TRANSIT_KEY}", {"ciphertext": "vault:v1:x", "context": "eA=="}),
    ("POST", f"{TRANSIT_MOUNT}/hmac/{TRANSIT_KEY}", {"input": "eA=="}),
    ("POST", f"{TRANSIT_MOUNT}/encrypt/another", {"plaintext": "eA=="}),
    ("POST", f"{TRANSIT_MOUNT}/decrypt/another", {"ciphertext": "vault:v1:x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), DENIED)
def test_policy_denies_everything_else(
    openbao: OpenBaoServer, method: str, path: str, body: dict[str, object] | None
) -> None:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    if f"{OTHER_KV}/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path=OTHER_KV, options={"version": "2"})
    # Existing targets, so a refusal cannot be a 404 in disguise.
    for mount in (KV_MOUNT, OTHER_KV):
        root.secrets.kv.v2.create_or_update_secret(
            "connections/c1/tokens", secret={"v": "1"}, mount_point=mount
        )
    client = _service_client(openbao)
    with pytest.raises((Forbidden, InvalidRequest)) as excinfo:
        client.adapter.request(method, f"/v1/{path}", json=body)
    # Refused by policy, not by a malformed request.
    assert isinstance(excinfo.value, Forbidden) or "permission denied" in str(excinfo.value)


def test_transit_key_is_derived_and_refuses_another_context(openbao: OpenBaoServer) -> None:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    key = root.secrets.transit.read_key(TRANSIT_KEY, mount_point=TRANSIT_MOUNT)["data"]
    assert key["derived"] is True
    assert key["exportable"] is False
    client = _service_client(openbao)
    ciphertext = client.secrets.transit.encrypt_data(
        TRANSIT_KEY, _b64("refresh-of-c1"), context=_b64("connection-1"), mount_point=TRANSIT_MOUNT
    )["data"]["ciphertext"]
    with pytest.raises(InvalidRequest):
        client.secrets.transit.decrypt_data(
            TRANSIT_KEY, ciphertext, context=_b64("connection-2"), mount_point=TRANSIT_MOUNT
        )
    # And a derived key cannot be used without a context at all.
    with pytest.raises(InvalidRequest):
        client.secrets.transit.encrypt_data(TRANSIT_KEY, _b64("x"), mount_point=TRANSIT_MOUNT)


def test_lost_storage_with_keys_left_is_a_clear_error(tmp_path: Path) -> None:
    """Never re-initialise over old keys silently: the operator decides what was lost."""
    data_dir = tmp_path / "openbao"
    port, cluster_port = free_port(), free_port()
    OpenBaoServer.create(data_dir, port, cluster_port).start().stop()
    shutil.rmtree(data_dir / "raft")
    server = OpenBaoServer.create(data_dir, port, cluster_port)
    with pytest.raises(OpenBaoSetupError, match="storage was removed"):
        server.start()
    assert not server.is_running()


# What earlier versions of openbao_setup configured: wider policy, `default` on every token, 10 versions.
LEGACY_POLICY = f"""
path "{KV_MOUNT}/data/connections/*" {{
  capabilities = ["create", "read", "update", "delete", "list"]
}}
path "{KV_MOUNT}/metadata/connections/*" {{
  capabilities = ["create", "read", "update", "delete", "list"]
}}
path "{TRANSIT_MOUNT}/encrypt/{TRANSIT_KEY}" {{
  capabilities = ["update"]
}}
path "{TRANSIT_MOUNT}/decrypt/{TRANSIT_KEY}" {{
  capabilities = ["update"]
}}
"""


def _make_legacy(root: hvac.Client) -> None:
    root.sys.create_or_update_policy(POLICY_NAME, LEGACY_POLICY)
    root.auth.approle.create_or_update_approle(
        ROLE_NAME, token_policies=[POLICY_NAME], token_no_default_policy=False, mount_point=APPROLE_MOUNT
    )
    root.secrets.kv.v2.configure(max_versions=10, mount_point=KV_MOUNT)


def test_existing_install_is_brought_up_to_date_on_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "openbao"
    port, cluster_port = free_port(), free_port()
    first = OpenBaoServer.create(data_dir, port, cluster_port).start()
    try:
        root = hvac.Client(url=first.addr, token=first.root_token)
        _make_legacy(root)
        kv = root.secrets.kv.v2
        for n in range(1, 5):
            kv.create_or_update_secret("connections/c1/tokens", secret={"rt": f"r-{n}"}, mount_point=KV_MOUNT)
        for n in range(1, 3):
            kv.create_or_update_secret("connections/c2/subscription", secret={"s": n}, mount_point=KV_MOUNT)
        kv.update_metadata("connections/c2/subscription", max_versions=5, mount_point=KV_MOUNT)
        kv.create_or_update_secret("connections/c3/tokens", secret={"rt": "only"}, mount_point=KV_MOUNT)
        old_service = _service_client(first)
        assert set(old_service.auth.token.lookup_self()["data"]["policies"]) == {"default", POLICY_NAME}
        creds_before = first.credentials
    finally:
        assert first.stop() == 0

    second = OpenBaoServer.create(data_dir, port, cluster_port).start()
    try:
        root = hvac.Client(url=second.addr, token=second.root_token)
        kv = root.secrets.kv.v2
        assert second.credentials == creds_before
        assert root.sys.read_policy(POLICY_NAME)["data"]["rules"] == POLICY
        role = root.auth.approle.read_role(ROLE_NAME, mount_point=APPROLE_MOUNT)["data"]
        assert role["token_no_default_policy"] is True
        assert kv.read_configuration(mount_point=KV_MOUNT)["data"]["max_versions"] == KV_MAX_VERSIONS

        # Tokens issued with `default` are gone; a new login has only the service policy.
        with pytest.raises(Forbidden):
            old_service.auth.token.lookup_self()
        service = _service_client(second)
        assert service.auth.token.lookup_self()["data"]["policies"] == [POLICY_NAME]
        with pytest.raises(Forbidden):
            service.secrets.kv.v2.read_secret_metadata("connections/c1/tokens", mount_point=KV_MOUNT)

        # Older versions written before are destroyed; the newest of each secret stays readable.
        for path, newest, latest in (
            ("connections/c1/tokens", 4, {"rt": "r-4"}),
            ("connections/c2/subscription", 2, {"s": 2}),
            ("connections/c3/tokens", 1, {"rt": "only"}),
        ):
            metadata = kv.read_secret_metadata(path, mount_point=KV_MOUNT)["data"]
            alive = [v for v, info in metadata["versions"].items() if not info["destroyed"]]
            assert alive == [str(newest)], path
            assert metadata["versions"][str(newest)]["deletion_time"] == ""
            assert metadata["max_versions"] == 0  # the mount's setting applies
            for version in range(1, newest):
                with pytest.raises(InvalidPath):
                    kv.read_secret_version(
                        path, version=version, mount_point=KV_MOUNT, raise_on_deleted_version=True
                    )
            read = service.secrets.kv.v2.read_secret_version(
                path, mount_point=KV_MOUNT, raise_on_deleted_version=True
            )
            assert read["data"]["data"] == latest

        # The next write by the service prunes the destroyed versions from the metadata entirely.
        service.secrets.kv.v2.create_or_update_secret(
            "connections/c1/tokens", secret={"rt": "r-5"}, cas=4, mount_point=KV_MOUNT
        )
        metadata = kv.read_secret_metadata("connections/c1/tokens", mount_point=KV_MOUNT)["data"]
        assert list(metadata["versions"]) == ["5"]
    finally:
        second.stop()
