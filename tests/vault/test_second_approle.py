"""Only the service's AppRole reads a connection's secrets: another AppRole on the same OpenBao, with a
policy of its own, is refused the connection's token path and the Transit key, even when its policy
lets it read the KV path itself (it then sees only ciphertext). Against a real OpenBao set up as
`make run` sets it up (stack/openbao_setup.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import hvac
import hvac.exceptions
import pytest
from pydantic import SecretStr

from stack.openbao_setup import KV_MOUNT, TRANSIT_KEY, TRANSIT_MOUNT
from vault import StoredTokens, TokenStore, VaultClient, VaultPermissionDenied
from vault.transit import _b64

# Another application sharing the OpenBao: its own secrets, plus (as operators often grant) `default`.
OTHER_APP_POLICY = f"""
path "{KV_MOUNT}/data/other-app/*" {{
  capabilities = ["create", "read", "update"]
}}
path "{KV_MOUNT}/metadata/other-app/*" {{
  capabilities = ["read", "list", "delete"]
}}
"""
# A careless operator's policy: every KV path of the mount readable, but no Transit.
KV_READER_POLICY = f"""
path "{KV_MOUNT}/data/*" {{
  capabilities = ["read"]
}}
path "{KV_MOUNT}/metadata/*" {{
  capabilities = ["read", "list"]
}}
"""


def tokens() -> StoredTokens:
    return StoredTokens(
        access_token=SecretStr("at-" + uuid.uuid4().hex),
        refresh_token=SecretStr("rt-" + uuid.uuid4().hex),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        mailbox="megan@contoso.example",
    )


def second_approle(root: hvac.Client, policy_text: str, *, default_policy: bool) -> tuple[str, str, str]:
    """A new policy and AppRole with it: (role name, role_id, secret_id)."""
    name = "other-" + uuid.uuid4().hex[:8]
    root.sys.create_or_update_policy(name, policy_text)
    root.auth.approle.create_or_update_approle(
        name, token_policies=[name], token_no_default_policy=not default_policy, token_ttl="10m"
    )
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return name, role_id, secret_id


@pytest.fixture
def roles(root_hvac: hvac.Client) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        root_hvac.auth.approle.delete_role(name)
        root_hvac.sys.delete_policy(name)


def login(openbao: Any, role_id: str, secret_id: str) -> hvac.Client:
    client = hvac.Client(url=openbao.addr)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    return client


async def test_another_approle_cannot_read_a_connections_tokens(
    openbao: Any, root_hvac: hvac.Client, token_store: TokenStore, roles: list[str]
) -> None:
    connection_id = uuid.uuid4().hex
    stored = tokens()
    assert await token_store.save(connection_id, stored)
    path = f"connections/{connection_id}/tokens"

    # The service's own AppRole reads them back.
    loaded = await token_store.load(connection_id)
    assert loaded.refresh_token.get_secret_value() == stored.refresh_token.get_secret_value()

    name, role_id, secret_id = second_approle(root_hvac, OTHER_APP_POLICY, default_policy=True)
    roles.append(name)
    other = VaultClient(openbao.addr, role_id, SecretStr(secret_id))
    try:
        await other.login()  # a valid login: what follows is the policy refusing, not a bad credential
        with pytest.raises(VaultPermissionDenied):
            await TokenStore(other).load(connection_id)
    finally:
        other.close()

    raw = login(openbao, role_id, secret_id)
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.read_secret_version(path=path, mount_point=KV_MOUNT, raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.read_secret_metadata(path=path, mount_point=KV_MOUNT)
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.list_secrets(path="connections", mount_point=KV_MOUNT)
    # Nor can it overwrite or destroy them.
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.create_or_update_secret(path=path, secret={"x": "y"}, mount_point=KV_MOUNT)
    with pytest.raises(hvac.exceptions.Forbidden):
        raw.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=KV_MOUNT)
    assert (await token_store.load(connection_id)).access_token.get_secret_value() == (
        stored.access_token.get_secret_value()
    )


async def test_reading_the_kv_path_without_the_transit_key_yields_only_ciphertext(
    openbao: Any, root_hvac: hvac.Client, token_store: TokenStore, roles: list[str]
) -> None:
    connection_id = uuid.uuid4().hex
    stored = tokens()
    assert await token_store.save(connection_id, stored)

    name, role_id, secret_id = second_approle(root_hvac, KV_READER_POLICY, default_policy=False)
    roles.append(name)
    reader = login(openbao, role_id, secret_id)
    record = reader.secrets.kv.v2.read_secret_version(
        path=f"connections/{connection_id}/tokens", mount_point=KV_MOUNT, raise_on_deleted_version=True
    )["data"]["data"]
    text = repr(record)
    assert stored.access_token.get_secret_value() not in text
    assert stored.refresh_token.get_secret_value() not in text
    assert str(record["refresh_token"]).startswith("vault:v")

    with pytest.raises(hvac.exceptions.Forbidden):
        reader.secrets.transit.decrypt_data(
            name=TRANSIT_KEY,
            ciphertext=record["refresh_token"],
            context=_b64(connection_id),
            mount_point=TRANSIT_MOUNT,
        )
