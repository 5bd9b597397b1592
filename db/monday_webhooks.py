"""The monday.com webhooks this service registered, one per enabled outgoing recipe on a monday board.

The webhook's URL carries a random secret (monday.com does not sign webhooks created through its API):
only the secret's SHA-256 is kept here, so the database alone cannot forge a delivery. recipe_id is not
a foreign key on purpose: when a recipe is deleted its row must outlive it long enough to delete the
webhook at monday.com (api/monday_triggers.py deletes both).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime


class MondayWebhook(Base):
    __tablename__ = "monday_webhooks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    recipe_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    monday_board_id: Mapped[str] = mapped_column(String(32))
    # monday.com's WebhookEventType: create_item or change_specific_column_value.
    event: Mapped[str] = mapped_column(String(40))
    column_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # sha256 hex of the URL's secret; the secret itself is only ever in the URL given to monday.com.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # monday.com's id of the webhook; None until create_webhook answered.
    monday_webhook_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
