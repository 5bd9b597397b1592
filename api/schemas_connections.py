"""What the API shows of a connection: never a token, never the clientState."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from db.connections import Connection


class ConnectionPublic(BaseModel):
    id: uuid.UUID
    mailbox: str
    display_name: str
    status: str
    status_reason: str
    granted_scopes: list[str]
    subscription_expires_at: datetime | None
    last_notification_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Connection) -> ConnectionPublic:
        return cls(
            id=row.id,
            mailbox=row.mailbox,
            display_name=row.display_name,
            status=row.status,
            status_reason=row.status_reason,
            granted_scopes=row.scope_list,
            subscription_expires_at=row.subscription_expires_at,
            last_notification_at=row.last_notification_at,
            created_at=row.created_at,
        )


class ConnectionsPublic(BaseModel):
    data: list[ConnectionPublic]
    count: int


class ReconnectPublic(BaseModel):
    url: str
