"""The audit log: who read a connection's tokens, connected, reconnected, disconnected, noticed a
revocation, changed the account's permissions or decoded Temporal payloads, and when.

A row names kinds, ids and fixed phrases chosen by the code: never a secret, never email content.
Rows outlive the connection they are about (no foreign key to connections), but go with their account.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime

# INTEGER on SQLite: only INTEGER PRIMARY KEY autoincrements there. The id orders entries (newest
# first) and is the cursor of GET /api/audit.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_account_id_id", "account_id", "id"),
        Index("ix_audit_log_connection_id_id", "connection_id", "id"),
    )

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # audit.kinds.Kind
    kind: Mapped[str] = mapped_column(String(40))
    # The user who acted; None when the service did (then `service` says what ran).
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    # "activity <name>", "workflow", "api GET /path": what part of the service acted or read.
    service: Mapped[str | None] = mapped_column(String(300), default=None)
    workflow_id: Mapped[str | None] = mapped_column(String(300), default=None)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # A short fixed phrase (the new status's reason, how many payloads, the permission's old and new
    # value): never a secret, never email content.
    detail: Mapped[str] = mapped_column(String(500), default="")
