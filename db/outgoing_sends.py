"""The send ledger: one row per (board event, recipe), the key of "one event, one email, ever".

Graph's sendMail is not idempotent and answers 202 without a message id. The row is committed with
state "attempted" before the call; the email carries an internetMessageId derived from the key. A later
attempt that finds "attempted" does not know whether Graph sent it, so it looks for that
internetMessageId in the mailbox's Sent Items before sending again (activities/send_email.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

SEND_STATES = ("attempted", "sent", "unknown", "failed")


class OutgoingSend(Base):
    __tablename__ = "outgoing_sends"
    __table_args__ = (CheckConstraint("state IN ('attempted', 'sent', 'unknown', 'failed')", name="state"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipe_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(64), index=True)
    internet_message_id: Mapped[str] = mapped_column(String(300), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the latest attempt's call started: Sent Items may show the copy a little after the 202.
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
