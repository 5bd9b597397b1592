"""The audit log: reads of connections' tokens, connects, reconnects, disconnects, revocations, permission
changes and codec decodes, newest first. Admins see their account's entries; members see the entries
about their own connections and their own actions. Never a secret, never email content."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import or_, select

from api.deps import CurrentUser, SessionDep
from audit.record import Kind
from db.accounts import Role
from db.audit import AuditEntry
from db.connections import Connection

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    # audit.record.Kind (a plain string: a kind added by a newer release still lists)
    kind: str
    # "user" (actor_user_id says who) or "service" (service, workflow_id and run_id say what ran).
    actor: str
    actor_user_id: uuid.UUID | None
    service: str | None
    workflow_id: str | None
    run_id: str | None
    connection_id: uuid.UUID | None
    detail: str

    @classmethod
    def of(cls, row: AuditEntry) -> AuditEntryPublic:
        return cls(
            id=row.id,
            at=row.at,
            kind=row.kind,
            actor="user" if row.actor_user_id else "service",
            actor_user_id=row.actor_user_id,
            service=row.service,
            workflow_id=row.workflow_id,
            run_id=row.run_id,
            connection_id=row.connection_id,
            detail=row.detail,
        )


class AuditEntriesPublic(BaseModel):
    data: list[AuditEntryPublic]
    count: int


@router.get("")
def list_audit(
    session: SessionDep,
    user: CurrentUser,
    connection_id: uuid.UUID | None = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    before: Annotated[int | None, Query(ge=1, description="cursor: entries older than this id")] = None,
) -> AuditEntriesPublic:
    """Audit entries, newest first; page with limit/offset, or pass the last id seen as `before`."""
    query = select(AuditEntry).where(AuditEntry.account_id == user.account_id)
    if user.role != Role.admin.value:
        own_connections = select(Connection.id).where(Connection.owner_id == user.id)
        query = query.where(
            or_(AuditEntry.actor_user_id == user.id, AuditEntry.connection_id.in_(own_connections))
        )
    if connection_id is not None:
        query = query.where(AuditEntry.connection_id == connection_id)
    if kind is not None:
        query = query.where(AuditEntry.kind == kind.value)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return AuditEntriesPublic(data=[AuditEntryPublic.of(r) for r in rows], count=len(rows))
