"""The webhook outbox: notifications the API has acknowledged to Graph and not yet handed to the
connection's workflow. The webhook writes a row and answers 202; a forwarder in every API process claims
rows with a lease, signals the workflows and deletes what it delivered.

A row carries ids only (message ids or a lifecycle event): never clientState, never email content.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

KINDS = ("change", "lifecycle")

# BIGINT on PostgreSQL (200 rows/s would exhaust a 32-bit sequence in months); SQLite only
# autoincrements a column declared exactly INTEGER PRIMARY KEY (its rowid, 64-bit anyway).
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxRow(Base):
    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint("kind IN ('change', 'lifecycle')", name="kind"),
        # Exactly the payload of its kind, so the forwarder never has to guess.
        CheckConstraint(
            "(kind = 'change' AND message_ids IS NOT NULL AND lifecycle_event IS NULL)"
            " OR (kind = 'lifecycle' AND lifecycle_event IS NOT NULL AND message_ids IS NULL)",
            name="payload",
        ),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    # A connection's rows go with it (they could only be forwarded to a workflow that has ended).
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    # change: JSON list of Graph message ids (one request's ids for this connection, deduplicated).
    message_ids: Mapped[str | None] = mapped_column(Text, default=None)
    # lifecycle: a payloads.connection.LifecycleEvent value.
    lifecycle_event: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The lease: which forwarder holds the row and until when. Free when claimed_until is NULL or past,
    # so a crashed process's rows go to another forwarder once its lease runs out.
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Failed hand-offs so far; the next try waits longer (backoff shared by every process).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
