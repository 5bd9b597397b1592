"""Per-connection OAuth tokens and subscription clientState in KV v2, every value Transit-encrypted.

Layout under the KV v2 mount (default `outlook-kv`):
    connections/<connection_id>/tokens        the StoredTokens fields, each a Transit ciphertext
    connections/<connection_id>/subscription  the subscription's clientState, a Transit ciphertext
OAuth sign-ins in progress are encrypted with the same key (`seal_flow`, derived per user rather than
per connection) and kept, as ciphertext only, in the app database's oauth_flows table for ten minutes.
Only `obtained_at` (when the identity platform issued the set) and a format number are stored in
plain text: saving compares them to keep the newest refresh token without decrypting anything.

The mount keeps one version per secret (max_versions=1, set by stack/openbao_setup.py): each write
destroys the version it replaces, so a rotated refresh token does not stay readable. Check-and-set
still works on the version numbers, which keep counting up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import hvac
import hvac.exceptions
from pydantic import SecretStr, ValidationError

from vault.client import VaultClient
from vault.errors import (
    ClientStateNotFound,
    ConcurrentUpdate,
    InvalidConnectionId,
    TokenNotFound,
    VaultStoreError,
)
from vault.models import StoredTokens
from vault.transit import decrypt_many, encrypt_many

FORMAT = 1
TOKENS = "tokens"
SUBSCRIPTION = "subscription"
# Every secret a connection has; stack/openbao_setup.py grants exactly these paths.
CONNECTION_SECRETS = (TOKENS, SUBSCRIPTION)
_ENCRYPTED_FIELDS = ("access_token", "refresh_token", "expires_at", "display_name", "mailbox", "scopes")
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_CAS_ATTEMPTS = 8


def connection_prefix(connection_id: str) -> str:
    # The id becomes a path segment: refuse anything that could reach another connection's path.
    if not _CONNECTION_ID.fullmatch(connection_id):
        raise InvalidConnectionId("connection id must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
    return f"connections/{connection_id}"


@dataclass(frozen=True)
class _Current:
    version: int  # 0 when the path has never been written (or was destroyed)
    data: dict[str, Any] | None  # None when absent or the latest version is deleted


# Called with the connection id before every read of its tokens (audit/record.py TokenReads writes the
# audit entry); raising refuses the read.
ReadHook = Callable[[str], Awaitable[None]]


class TokenStore:
    def __init__(self, vault: VaultClient, *, on_read: ReadHook | None = None) -> None:
        self._vault = vault
        self._on_read = on_read

    # --- tokens ---

    async def save(self, connection_id: str, tokens: StoredTokens) -> bool:
        """Stores the token set unless a newer one (later `obtained_at`) is already stored.

        Writes use check-and-set on the version just read, so two concurrent refreshes can never
        silently overwrite each other: the loser re-reads and keeps whichever set is newest.
        Returns True when this set was written, False when a newer one was already there.
        """
        path = f"{connection_prefix(connection_id)}/{TOKENS}"
        plain = [
            tokens.access_token.get_secret_value(),
            tokens.refresh_token.get_secret_value(),
            tokens.expires_at.isoformat(),
            tokens.display_name,
            tokens.mailbox,
            json.dumps(tokens.scopes),
        ]
        ciphertexts = await encrypt_many(self._vault, connection_id, plain)
        record: dict[str, Any] = dict(zip(_ENCRYPTED_FIELDS, ciphertexts, strict=True))
        record["format"] = FORMAT
        record["obtained_at"] = tokens.obtained_at.isoformat()
        for _attempt in range(MAX_CAS_ATTEMPTS):
            current = await self._read(path)
            if current.data is not None and _stored_obtained_at(current.data) > tokens.obtained_at:
                return False
            if await self._write_cas(path, record, current.version):
                return True
        raise ConcurrentUpdate(f"save tokens for connection {connection_id}: too many concurrent writers")

    async def load(self, connection_id: str) -> StoredTokens:
        path = f"{connection_prefix(connection_id)}/{TOKENS}"
        if self._on_read is not None:
            await self._on_read(connection_id)
        current = await self._read(path)
        if current.data is None:
            raise TokenNotFound(f"no tokens stored for connection {connection_id}")
        try:
            ciphertexts = [str(current.data[name]) for name in _ENCRYPTED_FIELDS]
        except KeyError:
            raise VaultStoreError(f"tokens of connection {connection_id}: unreadable record") from None
        values = dict(
            zip(_ENCRYPTED_FIELDS, await decrypt_many(self._vault, connection_id, ciphertexts), strict=True)
        )
        try:
            return StoredTokens(
                access_token=SecretStr(values["access_token"]),
                refresh_token=SecretStr(values["refresh_token"]),
                expires_at=datetime.fromisoformat(values["expires_at"]),
                display_name=values["display_name"],
                mailbox=values["mailbox"],
                scopes=json.loads(values["scopes"]),
                obtained_at=_stored_obtained_at(current.data),
            )
        except (ValueError, ValidationError):
            # ValidationError text could echo a field value: never pass it on.
            raise VaultStoreError(f"tokens of connection {connection_id}: unreadable record") from None

    async def exists(self, connection_id: str) -> bool:
        current = await self._read(f"{connection_prefix(connection_id)}/{TOKENS}")
        return current.data is not None

    # --- subscription clientState ---

    async def save_client_state(self, connection_id: str, client_state: SecretStr) -> None:
        path = f"{connection_prefix(connection_id)}/{SUBSCRIPTION}"
        (ciphertext,) = await encrypt_many(self._vault, connection_id, [client_state.get_secret_value()])
        await self._write(path, {"format": FORMAT, "client_state": ciphertext}, cas=None)

    async def load_client_state(self, connection_id: str) -> SecretStr:
        path = f"{connection_prefix(connection_id)}/{SUBSCRIPTION}"
        current = await self._read(path)
        if current.data is None or "client_state" not in current.data:
            raise ClientStateNotFound(f"no clientState stored for connection {connection_id}")
        (plain,) = await decrypt_many(self._vault, connection_id, [str(current.data["client_state"])])
        return SecretStr(plain)

    # --- OAuth sign-ins in progress ---

    async def seal_flow(self, user_id: str, flow_json: str) -> str:
        """MSAL's auth-code flow (PKCE verifier, nonce, state) as a Transit ciphertext for the app
        database, like the tokens; the key is derived for the user who started it, so the ciphertext
        opens only for them."""
        (ciphertext,) = await encrypt_many(self._vault, _flow_context(user_id), [flow_json])
        return ciphertext

    async def open_flow(self, user_id: str, sealed: str) -> str:
        """The flow `seal_flow` sealed for this user; DecryptionFailed for anyone else's or altered."""
        (flow_json,) = await decrypt_many(self._vault, _flow_context(user_id), [sealed])
        return flow_json

    # --- removal ---

    async def destroy(self, connection_id: str) -> None:
        """Deletes every version and the metadata of every secret of the connection; idempotent."""
        prefix = connection_prefix(connection_id)
        mount = self._vault.kv_mount
        # The layout is fixed (the policy grants exactly these paths), so nothing needs listing.
        for name in CONNECTION_SECRETS:
            path = f"{prefix}/{name}"

            def delete(client: hvac.Client, path: str = path) -> None:
                try:
                    client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount)
                except hvac.exceptions.InvalidPath:
                    pass

            await self._vault.call(delete, what=f"destroy secrets of connection {connection_id}")

    # --- KV v2 primitives ---

    async def _read(self, path: str) -> _Current:
        mount = self._vault.kv_mount

        def run(client: hvac.Client) -> _Current:
            try:
                response = client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=False
                )
            except hvac.exceptions.InvalidPath:
                return _Current(version=0, data=None)
            metadata = response["data"].get("metadata") or {}
            data = response["data"].get("data")
            return _Current(version=int(metadata.get("version") or 0), data=data if data else None)

        return await self._vault.call(run, what=f"read {path}")

    async def _write_cas(self, path: str, record: dict[str, Any], version: int) -> bool:
        """False when another writer got there first (the check-and-set version moved on)."""
        try:
            await self._write(path, record, cas=version)
        except _CasMismatch:
            return False
        return True

    async def _write(self, path: str, record: dict[str, Any], *, cas: int | None) -> None:
        mount = self._vault.kv_mount

        def run(client: hvac.Client) -> None:
            try:
                client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=record, cas=cas, mount_point=mount
                )
            except hvac.exceptions.InvalidRequest as exc:
                # Vault reports a check-and-set mismatch only as a 400 with this wording.
                if cas is not None and "check-and-set" in " ".join(exc.errors or []):
                    raise _CasMismatch from None
                raise VaultStoreError(f"write {path}: rejected by Vault") from None

        await self._vault.call(run, what=f"write {path}")


def _flow_context(user_id: str) -> str:
    # A '/' never occurs in a connection id (connection_prefix), so no flow shares a connection's key.
    return f"oauth-flow/{user_id}"


class _CasMismatch(Exception):
    pass


def _stored_obtained_at(data: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(data["obtained_at"]))
    except (KeyError, ValueError):
        raise VaultStoreError("stored tokens lack a valid obtained_at") from None
