"""Which connection a subscription belongs to, and when each connection last heard from Graph.

Both sit on the webhook's hot path, so neither may block the event loop or hold a database connection
across an await: lookups are cached in memory (a subscription id never changes owner) and what must
touch the database runs in a worker thread with a session of its own. The cache is per API process;
with several processes each fills its own, which is correct because the mapping never changes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from db.connections import Connection
from db.engine import session_scope

# "Last notification" is shown to people: one write per connection per this many seconds is enough.
NOTIFICATION_TIME_RESOLUTION = 30.0


class SubscriptionDirectory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._owner: dict[str, str] = {}
        self._noted: dict[str, float] = {}

    async def connections_for(self, subscription_ids: Iterable[str]) -> dict[str, str]:
        """subscription id -> connection id, for the ids that belong to a connection of ours."""
        wanted = set(subscription_ids)
        missing = [s for s in wanted if s not in self._owner]
        if missing:
            self._owner.update(await asyncio.to_thread(self._look_up, missing))
        return {s: self._owner[s] for s in wanted if s in self._owner}

    def _look_up(self, subscription_ids: list[str]) -> dict[str, str]:
        with session_scope(self._engine) as session:
            rows = session.execute(
                select(Connection.subscription_id, Connection.id).where(
                    Connection.subscription_id.in_(subscription_ids)
                )
            ).all()
        return {str(sub): str(conn) for sub, conn in rows}

    async def note_notifications(self, connection_ids: Iterable[str]) -> None:
        now = time.monotonic()
        due = [c for c in connection_ids if now - self._noted.get(c, -1e9) >= NOTIFICATION_TIME_RESOLUTION]
        if not due:
            return
        for c in due:
            self._noted[c] = now
        await asyncio.to_thread(self._write_times, due)

    def _write_times(self, connection_ids: list[str]) -> None:
        with session_scope(self._engine) as session:
            session.execute(
                update(Connection)
                .where(Connection.id.in_([uuid.UUID(c) for c in connection_ids]))
                .values(last_notification_at=datetime.now(UTC))
            )
