"""Board events: what happened on a board that outgoing recipes may act on.

A built-in board's row is written in the same transaction as the change it describes (an item created,
a column value changed), so an event exists if and only if the change does. A monday.com board's row is
written by the monday webhook (api/routes/monday_webhooks.py) in the transaction that acknowledges
monday.com's delivery: it names the monday board, item and column, and the recipe whose webhook it came
through (each outgoing monday recipe has a webhook of its own). The API forwards pending events to the
connection workflows of the recipes that watch the board and marks them forwarded; the event's id is
what the send workflow's id derives from (one event, one workflow per recipe, ever).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

EVENT_KINDS = ("item_created", "column_changed")
SOURCE_CHECK = (
    "(board_id IS NOT NULL AND item_id IS NOT NULL AND monday_board_id IS NULL) OR "
    "(board_id IS NULL AND monday_board_id IS NOT NULL AND monday_item_id IS NOT NULL "
    "AND recipe_id IS NOT NULL)"
)


class BoardEvent(Base):
    __tablename__ = "board_events"
    __table_args__ = (
        CheckConstraint("kind IN ('item_created', 'column_changed')", name="kind"),
        # Either a built-in board's event or a monday.com board's, never half of one.
        CheckConstraint(SOURCE_CHECK, name="source"),
        UniqueConstraint("delivery_id"),
        Index("ix_board_events_pending", "forwarded_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # A built-in board's event: its board and item.
    board_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), index=True, nullable=True
    )
    item_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # A monday.com board's event: monday's ids (digits), and the recipe whose webhook delivered it.
    monday_board_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    monday_item_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    monday_column_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    recipe_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("recipes.id", ondelete="CASCADE"), index=True, nullable=True
    )
    # monday.com's triggerUuid: a delivery monday repeats (our 200 was lost) is stored once.
    delivery_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    # column_changed only: the column's title and the values before and after.
    column: Mapped[str | None] = mapped_column(String(200), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once every watching recipe's connection workflow has been signalled about it.
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
