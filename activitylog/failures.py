"""Reading failed outcomes, for redoing messages (the retry routes, and catch-up after a reconnect).
Sync (SQLAlchemy on an Engine); async callers use asyncio.to_thread."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.activity_log import MessageOutcome


def outcome_of(engine: Engine, connection_id: uuid.UUID, message_id: str) -> str | None:
    """The incoming message's recorded outcome (processed, skipped, failed), None when it has none."""
    with Session(engine) as session:
        return session.scalar(
            select(MessageOutcome.outcome).where(
                MessageOutcome.connection_id == connection_id,
                MessageOutcome.message_id == message_id,
                MessageOutcome.direction == "incoming",
            )
        )


def failed_since(engine: Engine, connection_id: uuid.UUID, since: datetime, limit: int) -> list[str]:
    """The ids of the connection's incoming messages whose outcome is failed, recorded at or after
    `since`, oldest first, at most `limit`."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(MessageOutcome.message_id)
                .where(
                    MessageOutcome.connection_id == connection_id,
                    MessageOutcome.direction == "incoming",
                    MessageOutcome.outcome == "failed",
                    MessageOutcome.recorded_at >= since,
                )
                .order_by(MessageOutcome.recorded_at, MessageOutcome.message_id)
                .limit(limit)
            )
        )


def failed_with_prefix(engine: Engine, connection_id: uuid.UUID, prefix: str, limit: int) -> list[str]:
    """The ids of failed incoming messages whose reason starts with `prefix` (e.g. a dead grant), oldest
    first, at most `limit`."""
    with Session(engine) as session:
        return list(
            session.scalars(
                select(MessageOutcome.message_id)
                .where(
                    MessageOutcome.connection_id == connection_id,
                    MessageOutcome.direction == "incoming",
                    MessageOutcome.outcome == "failed",
                    MessageOutcome.reason.startswith(prefix, autoescape=True),
                )
                .order_by(MessageOutcome.recorded_at, MessageOutcome.message_id)
                .limit(limit)
            )
        )
