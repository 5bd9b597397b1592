"""Tables of the built-in board store: boards, their groups and typed columns, items, updates, and the
ledger that makes "one item per recipe and message" hold across retries, crashes and replays."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

COLUMN_TYPES = ("text", "long_text", "email", "date", "status", "number", "link")


class Board(Base):
    __tablename__ = "boards"
    __table_args__ = (CheckConstraint("visibility IN ('private', 'account')", name="visibility"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The member who made it; None for boards made before boards had owners (those are `account`) and
    # for a board whose owner was deleted.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    # "private": its owner only; "account": every member of the account.
    visibility: Mapped[str] = mapped_column(String(10), default="private", server_default="private")


class BoardGroup(Base):
    __tablename__ = "board_groups"
    __table_args__ = (UniqueConstraint("board_id", "title", name="uq_board_groups_board_id_title"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)


class BoardColumn(Base):
    __tablename__ = "board_columns"
    __table_args__ = (
        UniqueConstraint("board_id", "title", name="uq_board_columns_board_id_title"),
        CheckConstraint(
            "type IN ('text', 'long_text', 'email', 'date', 'status', 'number', 'link')", name="column_type"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    # JSON object of the type's settings: a status column's {"labels": [...]}; "{}" for the others.
    settings: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class BoardItem(Base):
    __tablename__ = "board_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("board_groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    # JSON object: column id -> text. Text rather than a JSON type so both databases store it alike.
    column_values: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemUpdate(Base):
    __tablename__ = "item_updates"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("board_items.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """What a recipe made of a message. The primary key is the idempotency key; the row is written in
    the same transaction as the item or update it names. No foreign keys on purpose: deleting an item
    or a recipe must not make the message eligible to create it again."""

    __tablename__ = "recipe_ledger"
    __table_args__ = (CheckConstraint("kind IN ('item', 'update')", name="kind"),)

    recipe_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
