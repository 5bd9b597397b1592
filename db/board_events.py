"""Board events: what happened on a built-in board that outgoing recipes may act on.

A row is written in the same transaction as the change it describes (an item created, a column value
changed), so an event exists if and only if the change does. The API forwards pending events to the
connection workflows of the recipes that watch the board and marks them forwarded; the event's id is
what the send workflow's id derives from (one event, one workflow per recipe, ever).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

EVENT_KINDS = ("item_created", "column_changed")


class BoardEvent(Base):
    __tablename__ = "board_events"
    __table_args__ = (
        CheckConstraint("kind IN ('item_created', 'column_changed')", name="kind"),
        Index("ix_board_events_pending", "forwarded_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    # column_changed only: the column's title and the values before and after.
    column: Mapped[str | None] = mapped_column(String(200), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once every watching recipe's connection workflow has been signalled about it.
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
