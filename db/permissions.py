"""Account settings on who may do what: who may create integrations (connect a mailbox, reconnect one,
save a recipe). An account without a row has the default, everyone."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime


class CreateIntegrations(enum.StrEnum):
    everyone = "everyone"
    admins = "admins"
    # Admins and the users listed in integration_creators (an admin could list themself anyway).
    users = "users"


class AccountPermissions(Base):
    __tablename__ = "account_permissions"
    __table_args__ = (
        CheckConstraint("create_integrations IN ('everyone', 'admins', 'users')", name="create_integrations"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    create_integrations: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IntegrationCreator(Base):
    """A user listed as allowed to create integrations; a deleted user leaves the list with their row."""

    __tablename__ = "integration_creators"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account_permissions.account_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
