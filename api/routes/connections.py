"""A user's mailbox connections: list, show, disconnect, reconnect.

The routes that call Temporal or Microsoft are async; their database reads and writes run in a worker
thread (a query can wait on SQLite's lock), the others are plain `def` routes, which FastAPI runs in
its thread pool.
"""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from temporalio.service import RPCError

from api.connection_deps import IdentityDep, TokenStoreDep
from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalClientDep
from api.permission_deps import check_integration_creator
from api.schemas_connections import ConnectionPublic, ConnectionsPublic, ReconnectPublic
from audit.record import record_disconnect_requested
from connections import consent, lifecycle
from db.accounts import User
from db.connections import Connection
from graph.identity_errors import IdentityError
from payloads.connection import ConnectionStatus

router = APIRouter(prefix="/api/connections", tags=["connections"])


def owned_connection(session: Session, user: User, connection_id: uuid.UUID) -> Connection:
    """The caller's own connection; another user's is indistinguishable from a missing one."""
    row = session.get(Connection, connection_id)
    if row is None or row.owner_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="connection not found")
    return row


async def load_owned_connection(session: Session, user: User, connection_id: uuid.UUID) -> Connection:
    """`owned_connection` for async routes: the query runs in a worker thread, off the event loop."""
    return await asyncio.to_thread(owned_connection, session, user, connection_id)


@router.get("")
def list_connections(session: SessionDep, user: CurrentUser) -> ConnectionsPublic:
    """The caller's connections, newest first."""
    rows = session.scalars(
        select(Connection).where(Connection.owner_id == user.id).order_by(Connection.created_at.desc())
    ).all()
    return ConnectionsPublic(data=[ConnectionPublic.of(r) for r in rows], count=len(rows))


@router.get("/{connection_id}")
def get_connection(connection_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ConnectionPublic:
    """One connection: mailbox, status and reason, granted scopes, subscription expiry."""
    return ConnectionPublic.of(owned_connection(session, user, connection_id))


@router.delete("/{connection_id}", status_code=status.HTTP_202_ACCEPTED)
async def disconnect(
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    temporal: TemporalClientDep,
) -> ConnectionPublic:
    """Disconnects: the workflow deletes the subscription and every stored token, then ends."""
    row = await load_owned_connection(session, user, connection_id)
    if row.status != ConnectionStatus.DISCONNECTED.value:
        await request_disconnect(temporal, settings.temporal_task_queue, row)
    return ConnectionPublic.of(row)


async def request_disconnect(temporal: TemporalClientDep, task_queue: str, row: Connection) -> None:
    try:
        await lifecycle.request_disconnect(temporal, task_queue, row)
    except RPCError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the workflow engine did not answer; try again"
        ) from None
    # Audited on the session that loaded the row (only its owner gets here: owned_connection).
    session = object_session(row)
    if session is None:
        raise RuntimeError("request_disconnect needs a connection loaded by the request's session")
    await record_disconnect_requested(session, row)


@router.post("/{connection_id}/reconnect")
async def reconnect(
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    user: CurrentUser,
) -> ReconnectPublic:
    """Starts a new consent for the same connection; open the returned URL in a browser."""
    row = await load_owned_connection(session, user, connection_id)
    if row.status == ConnectionStatus.DISCONNECTED.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="a disconnected connection cannot be reconnected"
        )
    await check_integration_creator(session, user)
    scopes = consent.requestable(row.scope_list)
    try:
        url = await consent.begin(
            session, identity, user, scopes, settings.oauth_redirect_uri, row, flows=tokens
        )
    except IdentityError:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail="Microsoft's sign-in service did not answer"
        ) from None
    return ReconnectPublic(url=url)
