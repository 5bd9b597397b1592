"""Asking a connection to catch up: `POST /api/connections/{id}/resync`.

The connection's workflow is sent the same `lifecycle` signal, with the same `missed` event, that Graph's
"missed" lifecycle notification becomes (api/webhook_forwarder.py): the workflow re-reads the mailbox
from its saved delta position and makes a message workflow for every message it has not seen yet. The
workflow code is unchanged; the duplicates a catch-up finds are dropped there as usual.

Owner only (another user's connection is not found), like the other connection routes. A connection that
is disconnected, revoked or invalid, or that does not read mail, cannot catch up: 409 with what to do.
The request is audited (kind `resync_requested`), after the workflow took the signal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy.orm import Session
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentUser, SessionDep, TemporalClientDep
from api.routes.connections import load_owned_connection
from audit import record as audit
from audit.context import user_actor
from audit.record import Kind
from db.accounts import User
from db.connections import Connection
from graph.scopes import reads_mail
from payloads.connection import ConnectionStatus, LifecycleEvent
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

log = logging.getLogger("api.resync")

router = APIRouter(prefix="/api/connections", tags=["connections"])

# Why a connection in this status cannot catch up, and what to do instead.
REFUSALS = {
    ConnectionStatus.DISCONNECTED.value: (
        "a disconnected connection cannot catch up; connect the mailbox again"
    ),
    ConnectionStatus.REVOKED.value: "the connection is revoked and reads no mail; reconnect it first",
    ConnectionStatus.INVALID.value: "the connection is invalid and reads no mail; reconnect it first",
}


class ResyncPublic(BaseModel):
    id: uuid.UUID
    mailbox: str
    status: str
    # What was asked of the workflow: the lifecycle event it was sent.
    requested: str
    # What happens next, in words.
    detail: str


def _refusal(row: Connection) -> str | None:
    refused = REFUSALS.get(row.status)
    if refused is not None:
        reason = f" ({row.status_reason})" if row.status_reason else ""
        return f"{refused}{reason}"
    if not reads_mail(row.scope_list):
        return "this connection only sends mail (Mail.Read was not granted): it has no inbox to catch up"
    return None


async def _record(session: Session, row: Connection, user: User) -> None:
    def write() -> None:
        audit.add(
            session,
            row.account_id,
            Kind.RESYNC_REQUESTED,
            user_actor(user.id),
            connection_id=row.id,
            detail="catch-up asked for (missed)",
        )
        session.commit()

    await asyncio.to_thread(write)


@router.post("/{connection_id}/resync", status_code=status.HTTP_202_ACCEPTED)
async def resync(
    connection_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    temporal: TemporalClientDep,
) -> ResyncPublic:
    """Asks the connection to re-check its mailbox and fetch any mail it missed, as Graph's `missed`
    lifecycle notification does. 202: the workflow took the request and catches up shortly."""
    row = await load_owned_connection(session, user, connection_id)
    refused = _refusal(row)
    if refused is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=refused)
    handle = temporal.get_workflow_handle(connection_workflow_id(row.id))
    try:
        await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.MISSED)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail="the connection's workflow is not running; reconnect it to start it again",
            ) from None
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the workflow engine did not answer; try again"
        ) from None
    await _record(session, row, user)
    log.info("catch-up requested for connection %s", row.id)
    if row.status == ConnectionStatus.ACTIVE.value:
        detail = "the connection re-reads its mailbox now and processes every message it missed"
    else:
        detail = f"the connection is {row.status}: it re-reads its mailbox as soon as it is active"
    return ResyncPublic(
        id=row.id,
        mailbox=row.mailbox,
        status=row.status,
        requested=LifecycleEvent.MISSED.value,
        detail=detail,
    )
