"""The webhook outbox's operations (table db/outbox.py): the webhook puts, forwarders claim, remove and
reschedule. Every method runs its database work in a worker thread with a session of its own, so none
blocks the event loop or holds a connection across an await.

Claiming is safe with several API processes (and hosts, on PostgreSQL): a row is taken by an UPDATE that
re-checks the lease in its WHERE clause, so of two forwarders racing for it only one gets it, and a
crashed forwarder's rows become free again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, delete, insert, or_, select, update

from db.engine import session_scope
from db.outbox import OutboxRow
from payloads.connection import LifecycleEvent
from webhooks.group_commit import GroupCommit


class OutboxEntry(BaseModel):
    """What the webhook accepted for one connection: message ids (a change) or one lifecycle event."""

    model_config = ConfigDict(frozen=True)

    connection_id: uuid.UUID
    # One request's ids for the connection; a Graph POST carries at most 1,000 notifications.
    message_ids: list[str] | None = Field(None, min_length=1, max_length=1000)
    lifecycle_event: LifecycleEvent | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> OutboxEntry:
        if (self.message_ids is None) == (self.lifecycle_event is None):
            raise ValueError("an outbox entry carries either message ids or a lifecycle event")
        return self

    @property
    def kind(self) -> str:
        return "change" if self.message_ids is not None else "lifecycle"


class ClaimedEntry(OutboxEntry):
    """A row this forwarder holds the lease on."""

    id: int
    attempts: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _free(now: datetime) -> Any:
    return or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._group = GroupCommit(self._put)
        # This process's writes to the outbox take turns here rather than at the database's write lock:
        # SQLite's busy handler waits by sleeping (up to 100 ms a time), a Python lock hands over at once.
        self._writing = threading.Lock()

    async def put(self, entries: Sequence[OutboxEntry]) -> None:
        """Stores the entries durably: all of them or (raising SQLAlchemyError) none. Concurrent calls
        share a transaction (webhooks/group_commit.py)."""
        await self._group.put(entries)

    def _put(self, entries: list[OutboxEntry]) -> None:
        now = _now()
        rows = [
            {
                "connection_id": e.connection_id,
                "kind": e.kind,
                "message_ids": json.dumps(e.message_ids) if e.message_ids is not None else None,
                "lifecycle_event": e.lifecycle_event.value if e.lifecycle_event is not None else None,
                "created_at": now,
                "attempts": 0,
            }
            for e in entries
        ]
        with self._writing, session_scope(self._engine) as session:
            session.execute(insert(OutboxRow), rows)

    async def claim(self, owner: str, *, lease: timedelta, limit: int) -> list[ClaimedEntry]:
        """Takes up to `limit` free rows, oldest first, for `lease`; returns what this call got."""
        return await asyncio.to_thread(self._claim, owner, lease, limit)

    def _claim(self, owner: str, lease: timedelta, limit: int) -> list[ClaimedEntry]:
        now = _now()
        # A plain read first: an idle poll then takes no write lock (SQLite has one for the whole file,
        # and the webhook's inserts would queue behind it).
        with session_scope(self._engine) as session:
            if session.scalar(select(OutboxRow.id).where(_free(now)).limit(1)) is None:
                return []
        # One statement picks and leases the rows. PostgreSQL skips rows another forwarder is leasing
        # right now (SKIP LOCKED) so concurrent forwarders take different rows; SQLite runs writers one
        # at a time. The outer WHERE checks the lease again, so a row is never taken twice.
        free_rows = (
            select(OutboxRow.id)
            .where(_free(now))
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(OutboxRow)
            .where(OutboxRow.id.in_(free_rows), _free(now))
            .values(claimed_by=owner, claimed_until=now + lease)
            .returning(
                OutboxRow.id,
                OutboxRow.connection_id,
                OutboxRow.message_ids,
                OutboxRow.lifecycle_event,
                OutboxRow.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        with self._writing, session_scope(self._engine) as session:
            rows = session.execute(claim).all()
        claimed = [
            ClaimedEntry(
                id=row.id,
                connection_id=row.connection_id,
                message_ids=json.loads(row.message_ids) if row.message_ids is not None else None,
                lifecycle_event=row.lifecycle_event,
                attempts=row.attempts,
            )
            for row in rows
        ]
        return sorted(claimed, key=lambda e: e.id)

    async def remove(self, owner: str, ids: Sequence[int]) -> None:
        """Deletes forwarded rows this forwarder still holds."""
        if ids:
            await asyncio.to_thread(self._remove, owner, list(ids))

    def _remove(self, owner: str, ids: list[int]) -> None:
        with self._writing, session_scope(self._engine) as session:
            session.execute(
                delete(OutboxRow)
                .where(OutboxRow.id.in_(ids), OutboxRow.claimed_by == owner)
                .execution_options(synchronize_session=False)
            )

    async def retry_later(
        self, owner: str, entries: Sequence[ClaimedEntry], delay: Callable[[int], timedelta]
    ) -> None:
        """Keeps rows that could not be forwarded, leased until `delay(attempts so far + 1)` from now:
        no forwarder (in any process) takes them again before then."""
        if entries:
            await asyncio.to_thread(self._retry_later, owner, list(entries), delay)

    def _retry_later(
        self, owner: str, entries: list[ClaimedEntry], delay: Callable[[int], timedelta]
    ) -> None:
        now = _now()
        by_delay: dict[timedelta, list[int]] = defaultdict(list)
        for e in entries:
            by_delay[delay(e.attempts + 1)].append(e.id)
        with self._writing, session_scope(self._engine) as session:
            for wait, ids in by_delay.items():
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(ids), OutboxRow.claimed_by == owner)
                    .values(claimed_until=now + wait, attempts=OutboxRow.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
