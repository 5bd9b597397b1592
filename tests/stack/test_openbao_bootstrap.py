"""OpenBao as `make run` sets it up: raft storage, init/unseal, restart, AppRole and its narrow policy."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import Forbidden, InvalidRequest

from stack.openbao import OpenBaoServer
from stack.openbao_setup import (
    KV_MOUNT,
    POLICY_NAME,
    TRANSIT_KEY,
    TRANSIT_MOUNT,
    AppRoleCredentials,
    OpenBaoSetupError,
    configure,
    write_private_json,
)
from tests.support.servers import free_port


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
            "connections/c1", secret={"refresh": "r-1"}, mount_point=KV_MOUNT
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
            "connections/c1", mount_point=KV_MOUNT, raise_on_deleted_version=True
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
    again = configure(openbao.addr, openbao.root_token, openbao.layout.data_dir)
    assert again.role_id == openbao.role_id
    assert again.secret_id == openbao.secret_id


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
    assert set(me["policies"]) == {"default", POLICY_NAME}
    assert "root" not in me["policies"]


def test_policy_allows_the_service_paths(openbao: OpenBaoServer) -> None:
    client = _service_client(openbao)
    kv = client.secrets.kv.v2
    kv.create_or_update_secret("connections/allowed", secret={"v": "1"}, mount_point=KV_MOUNT)
    assert "allowed" in kv.list_secrets("connections", mount_point=KV_MOUNT)["data"]["keys"]
    kv.delete_metadata_and_all_versions("connections/allowed", mount_point=KV_MOUNT)
    encrypted = client.secrets.transit.encrypt_data(
        TRANSIT_KEY, _b64("token"), context=_b64("c1"), mount_point=TRANSIT_MOUNT
    )["data"]["ciphertext"]
    decrypted = client.secrets.transit.decrypt_data(
        TRANSIT_KEY, encrypted, context=_b64("c1"), mount_point=TRANSIT_MOUNT
    )["data"]["plaintext"]
    assert base64.b64decode(decrypted).decode() == "token"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "sys/mounts", None),
        ("GET", "sys/policy", None),
        ("POST", "sys/mounts/other", {"type": "kv"}),
        ("PUT", "sys/policy/outlook-integration", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
        ("GET", "auth/approle/role/outlook-integration/role-id", None),
        ("POST", "auth/approle/role/outlook-integration/secret-id", {}),
        ("POST", f"{KV_MOUNT}/data/other/x", {"data": {"v": "1"}}),
        ("GET", f"{KV_MOUNT}/data/other/x", None),
        ("POST", f"{KV_MOUNT}/data/connections-evil/x", {"data": {"v": "1"}}),
        ("POST", f"{KV_MOUNT}/destroy/connections/x", {"versions": [1]}),
        ("POST", f"{TRANSIT_MOUNT}/keys/another", {}),
        ("POST", f"{TRANSIT_MOUNT}/keys/{TRANSIT_KEY}/rotate", {}),
        ("GET", f"{TRANSIT_MOUNT}/export/encryption-key/{TRANSIT_KEY}", None),
        ("POST", f"{TRANSIT_MOUNT}/encrypt/another", {"plaintext": "eA=="}),
    ],
)
def test_policy_denies_everything_else(
    openbao: OpenBaoServer, method: str, path: str, body: dict[str, object] | None
) -> None:
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
