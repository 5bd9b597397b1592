"""Where each connection's delta rounds stand, per folder. A delta link is an opaque Graph URL that is
useless without the connection's access token; it is stored only after its whole round is handed on."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import utcnow
from db.types import UTCDateTime


class MailSyncState(Base):
    __tablename__ = "mail_sync_state"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    folder: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The last complete round's link: the next round starts here.
    delta_link: Mapped[str | None] = mapped_column(Text, default=None)
    # A next link inside an unfinished round (the catch-up returns in chunks and resumes here).
    resume_link: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
