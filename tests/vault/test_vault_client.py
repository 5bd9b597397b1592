"""AppRole login, renewal, re-login and the narrow policy, against a real OpenBao."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime, timedelta

import hvac
import pytest
from pydantic import SecretStr

from vault import (
    StoredTokens,
    TokenStore,
    VaultClient,
    VaultLoginFailed,
    VaultPermissionDenied,
    VaultUnavailable,
)

KV = "outlook-kv"


def sample_tokens() -> StoredTokens:
    return StoredTokens(
        access_token=SecretStr("at-" + uuid.uuid4().hex),
        refresh_token=SecretStr("rt-" + uuid.uuid4().hex),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        mailbox="megan@contoso.example",
    )


def approle_with_ttl(root: hvac.Client, ttl: str, max_ttl: str) -> tuple[str, str]:
    """A second role like the service's (its policy only, no `default`) but with short token lifetimes."""
    name = "short-" + uuid.uuid4().hex[:8]
    root.auth.approle.create_or_update_approle(
        name,
        token_policies=["outlook-integration"],
        token_no_default_policy=True,
        token_ttl=ttl,
        token_max_ttl=max_ttl,
    )
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


async def test_policy_refuses_paths_outside_connections(
    vault_client: VaultClient, root_hvac: hvac.Client
) -> None:
    root_hvac.secrets.kv.v2.create_or_update_secret(path="admin/other", secret={"x": "y"}, mount_point=KV)

    def read_other(client: hvac.Client) -> object:
        return client.secrets.kv.v2.read_secret_version(
            path="admin/other", mount_point=KV, raise_on_deleted_version=True
        )

    with pytest.raises(VaultPermissionDenied):
        await vault_client.call(read_other, what="read outside")

    def write_top(client: hvac.Client) -> object:
        return client.secrets.kv.v2.create_or_update_secret(
            path="connections", secret={"a": "b"}, mount_point=KV
        )

    with pytest.raises(VaultPermissionDenied):
        await vault_client.call(write_top, what="write outside")

    def transit_other_key(client: hvac.Client) -> object:
        return client.secrets.transit.encrypt_data(
            name="other-key", plaintext="aGk=", context="aGk=", mount_point="outlook-transit"
        )

    with pytest.raises(VaultPermissionDenied):
        await vault_client.call(transit_other_key, what="encrypt with another key")

    def sys_mounts(client: hvac.Client) -> object:
        return client.sys.list_mounted_secrets_engines()

    with pytest.raises(VaultPermissionDenied):
        await vault_client.call(sys_mounts, what="list mounts")


async def test_relogin_after_token_revoked(vault_client: VaultClient, root_hvac: hvac.Client) -> None:
    store = TokenStore(vault_client)
    cid = uuid.uuid4().hex
    saved = sample_tokens()
    await store.save(cid, saved)
    first_token = vault_client._hvac.token
    root_hvac.auth.token.revoke(first_token)
    # The next call is answered 403 with the revoked token, logs in again and succeeds.
    assert await store.load(cid) == saved
    assert vault_client._hvac.token != first_token


async def test_relogin_after_token_max_ttl(openbao, root_hvac: hvac.Client) -> None:
    role_id, secret_id = approle_with_ttl(root_hvac, "2s", "2s")
    client = VaultClient(openbao.addr, role_id, SecretStr(secret_id))
    store = TokenStore(client)
    cid = uuid.uuid4().hex
    saved = sample_tokens()
    await store.save(cid, saved)
    first_token = client._hvac.token
    await asyncio.sleep(2.5)
    assert await store.load(cid) == saved
    assert client._hvac.token != first_token
    client.close()


async def test_token_renewed_before_expiry(openbao, root_hvac: hvac.Client) -> None:
    role_id, secret_id = approle_with_ttl(root_hvac, "7s", "1h")
    client = VaultClient(openbao.addr, role_id, SecretStr(secret_id))
    store = TokenStore(client)
    cid = uuid.uuid4().hex
    await store.save(cid, sample_tokens())
    token = client._hvac.token
    await asyncio.sleep(2.5)  # under the 5 s renewal margin: the next call renews
    await store.exists(cid)
    # Renewed, not replaced by a new login: the service policy itself grants renew-self.
    assert client._hvac.token == token
    ttl = root_hvac.auth.token.lookup(token)["data"]["ttl"]
    assert ttl > 5
    client.close()


async def test_wrong_secret_id_fails_login_without_leaking_it(openbao) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    client = VaultClient(openbao.addr, openbao.role_id, SecretStr(secret))
    with pytest.raises(VaultLoginFailed) as excinfo:
        await TokenStore(client).exists("abc")
    assert secret not in str(excinfo.value)
    assert openbao.role_id not in str(excinfo.value)
    client.close()


async def test_unreachable_vault_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = VaultClient(f"http://127.0.0.1:{port}", "role", SecretStr("secret"), timeout=2)
    with pytest.raises(VaultUnavailable):
        await TokenStore(client).exists("abc")
    client.close()


def test_an_ambient_vault_token_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # hvac reads VAULT_TOKEN (and ~/.vault-token) when given no token: the service must not carry an
    # operator's token, only the one its AppRole login returns.
    monkeypatch.setenv("VAULT_TOKEN", "an-operators-root-token")
    client = VaultClient("http://127.0.0.1:1", "role", SecretStr("secret"))
    assert client._hvac.token == ""
    client.close()
