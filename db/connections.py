"""Tables for mailbox connections and the OAuth sign-ins that create them.

A connection row holds what the API shows (mailbox, status, reason, subscription expiry); its tokens
and clientState live only in Vault. The subscription id maps Graph's notifications to a connection.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from db.accounts import utcnow
from db.base import Base
from db.types import UTCDateTime


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Space-separated Graph scopes the user granted (e.g. "Mail.Read Mail.Send User.Read").
    scopes: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="connecting")
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    # The Microsoft tenant the mailbox signed in from (id token `tid`); None for rows older than 0011.
    tenant_id: Mapped[str | None] = mapped_column(String(64), default=None)
    subscription_id: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    subscription_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_notification_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class OAuthFlow(Base):
    """A consent in progress: MSAL's auth-code flow (state, PKCE verifier, nonce), kept server-side for
    ten minutes and deleted when the callback uses it, so a replayed callback finds nothing."""

    __tablename__ = "oauth_flows"

    # SHA-256 of the OAuth state: the callback looks the flow up by the state it brings back.
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Set when the flow reconnects an existing connection.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), default=None
    )
    flow_json: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
