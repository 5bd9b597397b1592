"""Which connection a subscription belongs to, and when each connection last heard from Graph.

Both sit on the webhook's hot path, so neither may block the event loop or hold a database connection
across an await: lookups are cached in memory (a subscription id never changes owner) and what must
touch the database runs in a worker thread with a session of its own. The cache is per API process;
with several processes each fills its own, which is correct because the mapping never changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from db.connections import Connection
from db.engine import session_scope

# "Last notification" is shown to people: one write per connection per this many seconds is enough.
NOTIFICATION_TIME_RESOLUTION = 30.0
NOTE_FLUSH_SECONDS = 1.0
log = logging.getLogger("webhooks.directory")


class Owner(NamedTuple):
    """The connection a subscription belongs to, and the tenant its mailbox signed in from (None when
    the connection predates recording it)."""

    connection_id: str
    tenant_id: str | None


class SubscriptionDirectory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._owner: dict[str, Owner] = {}
        self._looking: dict[str, asyncio.Task[None]] = {}
        self._noted: dict[str, float] = {}
        self._unwritten: set[str] = set()
        self._flush: asyncio.Task[None] | None = None

    async def connections_for(self, subscription_ids: Iterable[str]) -> dict[str, Owner]:
        """subscription id -> its owner, for the ids that belong to a connection of ours."""
        wanted = set(subscription_ids)
        missing = [s for s in wanted if s not in self._owner]
        if missing:
            # Ids another request is looking up already are awaited, not looked up again.
            new = [s for s in missing if s not in self._looking]
            if new:
                lookup = asyncio.create_task(self._look_up_and_keep(new))
                for s in new:
                    self._looking[s] = lookup
            await asyncio.gather(*{asyncio.shield(self._looking[s]) for s in missing if s in self._looking})
        return {s: self._owner[s] for s in wanted if s in self._owner}

    async def _look_up_and_keep(self, subscription_ids: list[str]) -> None:
        try:
            self._owner.update(await asyncio.to_thread(self._look_up, subscription_ids))
        finally:
            for s in subscription_ids:
                self._looking.pop(s, None)

    def _look_up(self, subscription_ids: list[str]) -> dict[str, Owner]:
        with session_scope(self._engine) as session:
            rows = session.execute(
                select(Connection.subscription_id, Connection.id, Connection.tenant_id).where(
                    Connection.subscription_id.in_(subscription_ids)
                )
            ).all()
        return {str(sub): Owner(str(conn), tenant) for sub, conn, tenant in rows}

    async def note_notifications(self, connection_ids: Iterable[str]) -> None:
        """Marks the connections as notified now; written within a second, all in one transaction."""
        now = time.monotonic()
        due = [c for c in connection_ids if now - self._noted.get(c, -1e9) >= NOTIFICATION_TIME_RESOLUTION]
        for c in due:
            self._noted[c] = now
        self._unwritten.update(due)
        if self._unwritten and (self._flush is None or self._flush.done()):
            # Not awaited: the request that noted them has been answered and must not wait for this.
            self._flush = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        # A busy webhook notes hundreds of connections a second: one write for all of them, not one each.
        await asyncio.sleep(NOTE_FLUSH_SECONDS)
        written, self._unwritten = self._unwritten, set()
        try:
            await asyncio.to_thread(self._write_times, sorted(written))
        except SQLAlchemyError:
            log.warning("could not record the last notification time of %d connection(s)", len(written))

    def _write_times(self, connection_ids: list[str]) -> None:
        with session_scope(self._engine) as session:
            session.execute(
                update(Connection)
                .where(Connection.id.in_([uuid.UUID(c) for c in connection_ids]))
                .values(last_notification_at=datetime.now(UTC))
            )
