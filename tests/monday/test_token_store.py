"""The monday.com token in Vault: with the service's AppRole, only at its path, encrypted per account."""

from __future__ import annotations

import hvac
import pytest
from hvac.exceptions import Forbidden
from pydantic import SecretStr

from boards.monday.errors import MondayNotLinked
from boards.monday.token_store import token_path
from stack.openbao_setup import KV_MOUNT
from vault.errors import DecryptionFailed, InvalidConnectionId


async def test_save_load_destroy(monday_tokens) -> None:
    await monday_tokens.save("acct-1", SecretStr("token-one-0123456789"))
    await monday_tokens.save("acct-1", SecretStr("token-two-0123456789"))
    assert (await monday_tokens.load("acct-1")).get_secret_value() == "token-two-0123456789"
    await monday_tokens.destroy("acct-1")
    with pytest.raises(MondayNotLinked):
        await monday_tokens.load("acct-1")
    await monday_tokens.destroy("acct-1")  # idempotent


async def test_a_copied_ciphertext_does_not_decrypt_for_another_account(monday_tokens, openbao) -> None:
    await monday_tokens.save("acct-a", SecretStr("token-of-a-0123456789"))
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    stored = root.secrets.kv.v2.read_secret_version(
        token_path("acct-a"), mount_point=KV_MOUNT, raise_on_deleted_version=True
    )["data"]["data"]
    root.secrets.kv.v2.create_or_update_secret(token_path("acct-b"), secret=stored, mount_point=KV_MOUNT)
    with pytest.raises(DecryptionFailed):
        await monday_tokens.load("acct-b")


@pytest.mark.parametrize("account_id", ["../connections/x", "a/b", "", "a" * 129])
def test_account_ids_cannot_leave_their_path(account_id: str) -> None:
    with pytest.raises(InvalidConnectionId):
        token_path(account_id)


def test_the_policy_grants_exactly_the_token_path(openbao) -> None:
    client = hvac.Client(url=openbao.addr)
    client.auth.approle.login(openbao.role_id, openbao.secret_id)
    kv = client.secrets.kv.v2
    kv.create_or_update_secret("monday/acct-p/token", secret={"v": "1"}, mount_point=KV_MOUNT)
    for path in ("monday/acct-p/other", "monday/acct-p", "monday/acct-p/token/deeper"):
        with pytest.raises(Forbidden):
            kv.create_or_update_secret(path, secret={"v": "1"}, mount_point=KV_MOUNT)
    kv.delete_metadata_and_all_versions("monday/acct-p/token", mount_point=KV_MOUNT)
