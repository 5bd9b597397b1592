"""Graph calls on behalf of a connection: the access token from Vault, refreshed once on a 401.

One instance per worker, shared by every activity class, so a connection's refreshes are serialised in
this process: refresh tokens rotate, and two refreshes racing would spend the same one twice.

The access token is also kept in this process's memory until shortly before it expires: reading it
from Vault costs a KV read and a Transit decryption, which would otherwise come with every Graph call.
It never leaves the process, and a 401 or a refresh replaces it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
from pydantic import SecretStr

from config.settings import Settings
from graph.http_client import build_http_client
from graph.identity import Identity
from graph.identity_errors import ReconnectRequired
from graph.mail import GraphMail, MailboxClient
from graph.tokens import with_token_refresh
from telemetry.metrics import TOKEN_REFRESHES
from vault.client import VaultClient
from vault.models import StoredTokens
from vault.token_store import ReadHook, TokenStore

T = TypeVar("T")

# A cached access token is used only while it has at least this long to live.
TOKEN_MARGIN = timedelta(minutes=2)


class MailboxAccess:
    def __init__(self, tokens: TokenStore, identity: Identity, graph: GraphMail) -> None:
        self.tokens = tokens
        self._identity = identity
        self._graph = graph
        self._refresh_locks: dict[str, asyncio.Lock] = {}
        # Each connection's access token, its expiry, and the scopes it was granted: every mailbox
        # client checks a call against them before sending it (graph.mail ScopeNotGranted).
        self._access_tokens: dict[str, tuple[SecretStr, datetime, list[str]]] = {}
        self._owned: tuple[VaultClient, Identity, httpx.AsyncClient] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, on_token_read: ReadHook | None = None) -> MailboxAccess:
        """Vault, the identity platform and Graph as the settings say (one set of clients per call).
        The instance owns these clients: `aclose()` closes them. `on_token_read`: the token store's
        audit hook (audit/record.py TokenReads)."""
        vault = VaultClient.from_settings(settings)
        identity = Identity.from_settings(settings)
        http = build_http_client(settings.ms_ca_bundle)
        tokens = TokenStore(vault, on_read=on_token_read)
        access = cls(tokens, identity, GraphMail(http, settings.ms_graph_base_url))
        access._owned = (vault, identity, http)
        return access

    async def aclose(self) -> None:
        """Closes the clients `from_settings` built (clients passed to the constructor are the caller's)."""
        if self._owned is None:
            return
        vault, identity, http = self._owned
        self._owned = None
        try:
            await http.aclose()
        finally:
            identity.close()
            vault.close()

    async def access_token(self, connection_id: str) -> SecretStr:
        cached = self._access_tokens.get(connection_id)
        if cached and cached[1] - datetime.now(UTC) > TOKEN_MARGIN:
            return cached[0]
        stored = await self.tokens.load(connection_id)
        self._access_tokens[connection_id] = (stored.access_token, stored.expires_at, stored.scopes)
        return stored.access_token

    def _granted(self, connection_id: str) -> list[str] | None:
        held = self._access_tokens.get(connection_id)
        return held[2] if held else None

    def forget(self, connection_id: str) -> None:
        """Drops what this process holds of the connection (on disconnect)."""
        self._access_tokens.pop(connection_id, None)
        self._refresh_locks.pop(connection_id, None)

    async def refresh(self, connection_id: str) -> StoredTokens:
        lock = self._refresh_locks.setdefault(connection_id, asyncio.Lock())
        async with lock:
            stored = await self.tokens.load(connection_id)
            try:
                fresh = await self._identity.refresh(stored.refresh_token, stored.scopes)
            except ReconnectRequired:
                # Another worker may have rotated the token a moment ago: then ours is merely stale.
                latest = await self.tokens.load(connection_id)
                if latest.obtained_at > stored.obtained_at:
                    TOKEN_REFRESHES.labels(result="rotated_elsewhere").inc()
                    return latest
                TOKEN_REFRESHES.labels(result="reconnect_required").inc()
                raise
            except Exception:
                TOKEN_REFRESHES.labels(result="error").inc()
                raise
            TOKEN_REFRESHES.labels(result="ok").inc()
            renewed = StoredTokens(
                access_token=fresh.access_token,
                refresh_token=fresh.refresh_token,
                expires_at=fresh.expires_at,
                display_name=stored.display_name,
                mailbox=stored.mailbox,
                scopes=fresh.scopes or stored.scopes,
                obtained_at=fresh.obtained_at,
            )
            if not await self.tokens.save(connection_id, renewed):
                renewed = await self.tokens.load(connection_id)
            self._access_tokens[connection_id] = (renewed.access_token, renewed.expires_at, renewed.scopes)
            return renewed

    async def client(self, connection_id: str) -> MailboxClient:
        """A mailbox client with the stored access token, for paged calls that handle 401 themselves."""
        token = await self.access_token(connection_id)
        return self._graph.mailbox(connection_id, token, self._granted(connection_id))

    async def call(self, connection_id: str, fn: Callable[[MailboxClient], Awaitable[T]]) -> T:
        """Runs a Graph call with the stored access token; on 401, one refresh and one retry."""

        async def current_token() -> SecretStr:
            return await self.access_token(connection_id)

        async def refreshed_token() -> SecretStr:
            return (await self.refresh(connection_id)).access_token

        return await with_token_refresh(
            lambda token: fn(self._graph.mailbox(connection_id, token, self._granted(connection_id))),
            current_token,
            refreshed_token,
        )
