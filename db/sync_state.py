"""Where each connection's delta rounds stand, per folder. A delta link is an opaque Graph URL that is
useless without the connection's access token. Each catch-up call saves where it got to and where it
started, under the workflow's number for the call, so a call whose result was lost is redone."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
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
    # The workflow's number of the call that last moved the position, and where that call started
    # (NULL: at the first round). A call presented again with the same number starts there again, so
    # ids found by a call whose result never reached the workflow are found again, never skipped.
    last_call: Mapped[int | None] = mapped_column(Integer, default=None)
    previous_link: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
