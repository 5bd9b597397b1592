"""Which item a recipe made for a conversation: replies become updates on it ("replies": "update").

Keys are "conversation:<conversationId>" and "message:<internetMessageId>" (In-Reply-To and References
are looked up against the latter). Written in the same transaction as the item (built-in boards) or
right after the remote item exists (monday.com). target_id is the destination's item id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime


class ItemThread(Base):
    __tablename__ = "item_threads"

    recipe_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_key: Mapped[str] = mapped_column(String(600), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
