"""The activity log: one outcome per message and connection (processed, skipped, failed) with a short
reason. Never the email's content: the reason is a fixed phrase chosen by the code, not by the mail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

OUTCOMES = ("processed", "skipped", "failed")


class MessageOutcome(Base):
    __tablename__ = "message_outcomes"
    __table_args__ = (
        CheckConstraint("outcome IN ('processed', 'skipped', 'failed')", name="outcome"),
        # The activity page lists a connection's newest outcomes first.
        Index("ix_message_outcomes_connection_id_recorded_at", "connection_id", "recorded_at"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200), default="")
    items_created: Mapped[int] = mapped_column(Integer, default=0)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "incoming": a notified message; "outgoing": an email a board event sent (message_id is then
    # "send/<event id>/<recipe id>").
    direction: Mapped[str] = mapped_column(String(10), default="incoming", server_default="incoming")
    # JSON list, one entry per recipe: {"recipe_id", "recipe", "result", "reason", "missing"}: which
    # recipes matched and what each made, which did not and the condition that failed, template
    # fields that rendered empty. Names and fixed phrases only, never email content.
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
