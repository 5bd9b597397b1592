"""An account's monday.com API token in Vault, like the mailbox tokens (vault/token_store.py).

Layout under the KV v2 mount (default `outlook-kv`):
    monday/<account_id>/token   {"format": 1, "token": <Transit ciphertext>}
The ciphertext is made with the service's derived Transit key in the context "monday-<account_id>", so a
value copied to another account's path (or a connection's) cannot be decrypted there. The AppRole policy
(stack/openbao_setup.py) grants exactly this path: create, read, update, and delete of the metadata.
"""

from __future__ import annotations

import re

import hvac
import hvac.exceptions
from pydantic import SecretStr

from boards.monday.errors import MondayNotLinked
from vault.client import VaultClient
from vault.errors import InvalidConnectionId, VaultStoreError
from vault.transit import decrypt_many, encrypt_many

FORMAT = 1
# The one secret an account's monday.com link has; stack/openbao_setup.py grants exactly this path.
MONDAY_SECRET_PATH = "monday/+/token"
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def token_path(account_id: str) -> str:
    # The id becomes a path segment: refuse anything that could reach another path.
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise InvalidConnectionId("account id must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
    return MONDAY_SECRET_PATH.replace("+", account_id)


def _context(account_id: str) -> str:
    return f"monday-{account_id}"


class MondayTokenStore:
    def __init__(self, vault: VaultClient) -> None:
        self._vault = vault

    async def save(self, account_id: str, token: SecretStr) -> None:
        path = token_path(account_id)
        (ciphertext,) = await encrypt_many(self._vault, _context(account_id), [token.get_secret_value()])
        mount = self._vault.kv_mount

        def write(client: hvac.Client) -> None:
            client.secrets.kv.v2.create_or_update_secret(
                path=path, secret={"format": FORMAT, "token": ciphertext}, mount_point=mount
            )

        await self._vault.call(write, what=f"store the monday.com token of account {account_id}")

    async def load(self, account_id: str) -> SecretStr:
        path = token_path(account_id)
        mount = self._vault.kv_mount

        def read(client: hvac.Client) -> str | None:
            try:
                response = client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=False
                )
            except hvac.exceptions.InvalidPath:
                return None
            data = response["data"].get("data") or {}
            value = data.get("token")
            return str(value) if value else None

        ciphertext = await self._vault.call(read, what=f"read the monday.com token of account {account_id}")
        if ciphertext is None:
            raise MondayNotLinked(f"account {account_id} has not linked monday.com (no token stored)")
        (plain,) = await decrypt_many(self._vault, _context(account_id), [ciphertext])
        if not plain:
            raise VaultStoreError(f"monday.com token of account {account_id}: unreadable record")
        return SecretStr(plain)

    async def destroy(self, account_id: str) -> None:
        """Deletes every version and the metadata; idempotent."""
        path = token_path(account_id)
        mount = self._vault.kv_mount

        def delete(client: hvac.Client) -> None:
            try:
                client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount)
            except hvac.exceptions.InvalidPath:
                pass

        await self._vault.call(delete, what=f"destroy the monday.com token of account {account_id}")
