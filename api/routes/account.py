"""The caller's account: who may create integrations (members read it, admins set it), and for admins the
status of every connection of the account (never a token)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import select

from accounts import permissions
from accounts.permissions import PermissionsBody, UnknownUsers
from api.deps import CurrentAdmin, CurrentUser, SessionDep
from api.schemas_connections import ConnectionPublic
from audit.record import record_permission_change
from db.connections import Connection

router = APIRouter(prefix="/api/account", tags=["account"])


class AccountConnectionPublic(ConnectionPublic):
    owner_id: uuid.UUID


class AccountConnectionsPublic(BaseModel):
    data: list[AccountConnectionPublic]
    count: int


@router.get("/permissions")
def get_permissions(session: SessionDep, user: CurrentUser) -> PermissionsBody:
    """Who may create integrations (connect or reconnect a mailbox, save a recipe): "everyone", "admins",
    or {"users": [user ids]} (admins always may)."""
    return permissions.read(session, user.account_id)


@router.put("/permissions")
def put_permissions(body: PermissionsBody, session: SessionDep, admin: CurrentAdmin) -> PermissionsBody:
    """Sets who may create integrations (admins only; audited). Existing connections and recipes keep
    running."""
    before = permissions.read(session, admin.account_id)
    try:
        saved = permissions.write(session, admin.account_id, body)
    except UnknownUsers as err:
        session.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "type": "value_error",
                    "loc": ["body", "create_integrations", "users"],
                    "msg": f"not users of this account: {err}",
                }
            ],
        ) from None
    record_permission_change(
        session,
        admin,
        "create_integrations",
        before.model_dump(mode="json")["create_integrations"],
        saved.model_dump(mode="json")["create_integrations"],
    )
    session.commit()
    return saved


@router.get("/connections")
def list_account_connections(session: SessionDep, admin: CurrentAdmin) -> AccountConnectionsPublic:
    """Every connection of the account with its owner and status, newest first (admins only)."""
    rows = session.scalars(
        select(Connection)
        .where(Connection.account_id == admin.account_id)
        .order_by(Connection.created_at.desc())
    ).all()
    data = [AccountConnectionPublic(**ConnectionPublic.of(r).model_dump(), owner_id=r.owner_id) for r in rows]
    return AccountConnectionsPublic(data=data, count=len(data))
