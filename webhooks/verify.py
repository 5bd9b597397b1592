"""Which notifications are ours: the subscription belongs to a known connection and the clientState
matches the secret stored for it (compared in constant time). Everything else is dropped and counted.

The clientState lives in Vault; reading it for every notification would put Vault on the webhook's hot
path, so each API process keeps it for a short while (and re-reads once on a mismatch, in case the
subscription was re-created with a new secret: at once for a subscription not re-read for yet, then at
most once per REFRESH_SECONDS, so that a flood of forged notifications naming a real subscription cannot
turn into a flood of Vault reads). What
it keeps is a SHA-256 digest, never the secret:
after a disconnect nothing usable of the connection's auth data stays in an API process's memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from telemetry.metrics import NOTIFICATIONS_REFUSED
from vault.errors import ClientStateNotFound
from webhooks.directory import Owner
from webhooks.models import Notification

CACHE_SECONDS = 300.0
# A mismatch re-reads the clientState at most this often per connection (forged notifications are
# dropped without a read in between; a genuine one after a re-creation waits at most this long).
REFRESH_SECONDS = 5.0
YIELD_EVERY = 200


@dataclass
class Verified:
    connection_id: str
    notification: Notification


def digest(client_state: SecretStr) -> bytes:
    return hashlib.sha256(client_state.get_secret_value().encode("utf-8")).digest()


@dataclass
class ClientStateCache:
    """The digest of each connection's clientState, loaded from Vault once per `ttl`."""

    load: Callable[[str], Awaitable[SecretStr]]
    ttl: float = CACHE_SECONDS
    refresh_interval: float = REFRESH_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    # Per connection, the subscriptions a mismatch has re-read the clientState for since it was loaded:
    # a subscription not among them (the one Graph's re-creation just made, with its new secret) is
    # re-read at once; one already among them waits for `refresh_interval`.
    _refreshed_for: dict[str, set[str]] = field(default_factory=dict)
    # One read per connection at a time: a burst for a connection not cached yet waits for that read
    # instead of sending Vault one read per notification.
    _loading: dict[str, asyncio.Task[bytes]] = field(default_factory=dict)

    async def get(self, connection_id: str, *, fresh: bool = False, subscription_id: str = "") -> bytes:
        """The digest; `fresh` (after a mismatch on `subscription_id`) re-reads it unless that was done
        for this subscription less than `refresh_interval` ago."""
        entry = self._entries.get(connection_id)
        if entry:
            age = self.clock() - entry[0]
            if not fresh and age < self.ttl:
                return entry[1]
            refreshed = self._refreshed_for.get(connection_id, set())
            if fresh and age < self.refresh_interval and subscription_id in refreshed:
                return entry[1]
        loading = self._loading.get(connection_id)
        if loading is None:
            loading = self._loading[connection_id] = asyncio.create_task(self._load(connection_id))
        value = await asyncio.shield(loading)
        if fresh:
            self._refreshed_for.setdefault(connection_id, set()).add(subscription_id)
        return value

    async def _load(self, connection_id: str) -> bytes:
        try:
            value = digest(await self.load(connection_id))
            if self._entries.get(connection_id, (0.0, b""))[1] != value:
                # A new secret: every subscription may be re-read for it again.
                self._refreshed_for[connection_id] = set()
            self._entries[connection_id] = (self.clock(), value)
            return value
        finally:
            self._loading.pop(connection_id, None)


def single_tenant(authority: str) -> str | None:
    """The tenant id when MS_AUTHORITY names one tenant by its GUID (a single-tenant deployment), else
    None (common, organizations, consumers or a domain name: notifications may come from any tenant)."""
    segments = [s for s in urlsplit(authority).path.split("/") if s]
    if not segments:
        return None
    try:
        return str(uuid.UUID(segments[-1]))
    except ValueError:
        return None


@dataclass
class Verifier:
    cache: ClientStateCache
    # A single-tenant deployment's tenant: a notification from any other tenant is not ours.
    tenant_id: str | None = None
    dropped: Counter[str] = field(default_factory=Counter)

    async def verify(
        self, notifications: Iterable[Notification], connection_of: Mapping[str, Owner]
    ) -> list[Verified]:
        """`connection_of` maps our subscription ids to their connections."""
        accepted: list[Verified] = []
        for i, n in enumerate(notifications, 1):
            if i % YIELD_EVERY == 0:
                # A full batch (1,000) of forged notifications is checked in slices, not in one step of
                # the event loop, so that other requests keep being answered in between.
                await asyncio.sleep(0)
            owner = connection_of.get(n.subscription_id)
            if owner is None:
                self.dropped["unknown_subscription"] += 1
                NOTIFICATIONS_REFUSED.labels(reason="unknown_subscription").inc()
                continue
            connection_id = owner.connection_id
            if self._foreign(n, owner):
                self.dropped["foreign_tenant"] += 1
                NOTIFICATIONS_REFUSED.labels(reason="foreign_tenant").inc()
                continue
            presented = n.client_state
            if presented is None or not await self._matches(connection_id, n.subscription_id, presented):
                self.dropped["client_state_mismatch"] += 1
                NOTIFICATIONS_REFUSED.labels(reason="client_state_mismatch").inc()
                continue
            accepted.append(Verified(connection_id, n))
        return accepted

    def _foreign(self, n: Notification, owner: Owner) -> bool:
        """From another tenant than the deployment's (single-tenant) or than the one the connection's
        mailbox signed in from: Graph sends a subscription's notifications with its mailbox's tenant."""
        tenant = (n.tenant_id or "").lower()
        if self.tenant_id is not None and tenant != self.tenant_id:
            return True
        return owner.tenant_id is not None and tenant != owner.tenant_id

    async def _matches(self, connection_id: str, subscription_id: str, presented: SecretStr) -> bool:
        try:
            if _equal(await self.cache.get(connection_id), presented):
                return True
            fresh = await self.cache.get(connection_id, fresh=True, subscription_id=subscription_id)
            return _equal(fresh, presented)
        except ClientStateNotFound:
            return False


def _equal(stored: bytes, presented: SecretStr) -> bool:
    return hmac.compare_digest(stored, digest(presented))
