"""Board events: written in the caller's transaction, beside the change they describe, so that an event
exists if and only if its change was committed. The API and the board store record them; the API's
forwarder reads the pending ones and marks them forwarded once the watching workflows were signalled.

Values are kept as stored (they may be email content): they go to the database and, encrypted, to the
send workflow, never to logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.accounts import utcnow
from db.board_events import BoardEvent
from db.boards import BoardItem


@dataclass(frozen=True)
class ColumnChange:
    """One column whose stored value changed; None is "no value"."""

    column: str
    old_value: str | None
    new_value: str | None


def record_item_created(session: Session, item: BoardItem) -> BoardEvent:
    event = BoardEvent(id=uuid.uuid4(), board_id=item.board_id, item_id=item.id, kind="item_created")
    session.add(event)
    return event


def record_column_changes(
    session: Session, item: BoardItem, changes: Sequence[ColumnChange]
) -> list[BoardEvent]:
    """One column_changed event per change; a "change" to the same value is not one and is skipped."""
    events = [
        BoardEvent(
            id=uuid.uuid4(),
            board_id=item.board_id,
            item_id=item.id,
            kind="column_changed",
            column=change.column,
            old_value=change.old_value,
            new_value=change.new_value,
        )
        for change in changes
        if change.old_value != change.new_value
    ]
    session.add_all(events)
    return events


def pending_events(session: Session, limit: int) -> list[BoardEvent]:
    """Events not forwarded yet, oldest first (the order they happened in)."""
    return list(
        session.scalars(
            select(BoardEvent)
            .where(BoardEvent.forwarded_at.is_(None))
            .order_by(BoardEvent.created_at, BoardEvent.id)
            .limit(limit)
        )
    )


def mark_forwarded(session: Session, ids: Iterable[uuid.UUID]) -> int:
    """Marks these events forwarded (those already marked keep their first time); how many it marked."""
    wanted = list(ids)
    if not wanted:
        return 0
    result = session.execute(
        update(BoardEvent)
        .where(BoardEvent.id.in_(wanted), BoardEvent.forwarded_at.is_(None))
        .values(forwarded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
