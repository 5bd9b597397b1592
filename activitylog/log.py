"""Writing and reading message outcomes. Sync (SQLAlchemy on an Engine); async callers use
asyncio.to_thread."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.activity_log import OUTCOMES, MessageOutcome

__all__ = ["OUTCOMES", "processed_message_ids", "recent_outcomes", "record_outcome"]

REASON_MAX = 200
# Bound the IN (...) list: SQLite allows 32766 parameters, but smaller queries keep locks short.
_CHUNK = 500


def record_outcome(
    engine: Engine,
    connection_id: str,
    message_id: str,
    outcome: str,
    reason: str,
    items_created: int,
    *,
    direction: str = "incoming",
    details: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Record (or replace) the message's outcome. `reason` is a short fixed phrase, never email content;
    `details` one entry per recipe (names, results, fixed phrases: db.activity_log.MessageOutcome)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    values: dict[str, Any] = {
        "connection_id": uuid.UUID(connection_id),
        "message_id": message_id,
        "outcome": outcome,
        "reason": reason[:REASON_MAX],
        "items_created": items_created,
        "recorded_at": datetime.now(UTC),
        "direction": direction,
        "details": None if details is None else json.dumps(list(details), ensure_ascii=False),
    }
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(MessageOutcome).values(**values)
    # One statement, so two workers recording the same message never collide on the key.
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "message_id"],
        set_={
            k: statement.excluded[k] for k in ("outcome", "reason", "items_created", "recorded_at", "details")
        },
    )
    with engine.begin() as connection:
        connection.execute(statement)


def processed_message_ids(
    engine: Engine, connection_id: str, message_ids: Iterable[str], *, retry_failed: bool = False
) -> set[str]:
    """The given ids that already have an outcome (any: processed, skipped or failed), so a catch-up
    skips them. With retry_failed, failed ones are left out: the caller may process them again."""
    ids = list(dict.fromkeys(message_ids))
    connection_uuid = uuid.UUID(connection_id)
    found: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(ids), _CHUNK):
            query = select(MessageOutcome.message_id).where(
                MessageOutcome.connection_id == connection_uuid,
                MessageOutcome.message_id.in_(ids[start : start + _CHUNK]),
            )
            if retry_failed:
                query = query.where(MessageOutcome.outcome != "failed")
            found.update(session.scalars(query))
    return found


def recent_outcomes(session: Session, connection_id: uuid.UUID, limit: int) -> list[MessageOutcome]:
    """The connection's outcomes, newest first."""
    return list(
        session.scalars(
            select(MessageOutcome)
            .where(MessageOutcome.connection_id == connection_id)
            .order_by(MessageOutcome.recorded_at.desc(), MessageOutcome.message_id)
            .limit(limit)
        ).all()
    )
