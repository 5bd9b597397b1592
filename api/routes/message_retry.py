"""Redoing failed messages: one by id, or every failure of a connection since a time. The connection
workflow starts a new MessageWorkflow per message (its `redo_messages` update); the item ledger keeps
each recipe to one item per message however often a message is redone.

Owner only (another user's connection is not found), the connection must be active. Database reads run
in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel
from temporalio.service import RPCError

from activitylog.failures import failed_since, outcome_of
from api.deps import CurrentUser, EngineDep, SessionDep, TemporalClientDep
from api.routes.connections import load_owned_connection
from connections.redo import RedoRefused, redo_messages
from db.connections import Connection
from payloads.connection import ConnectionStatus

router = APIRouter(prefix="/api/connections", tags=["activity"])

# At most this many failures per retry-failed call (ten updates of 500 ids); a later call with a later
# `since` takes the rest.
MAX_RETRY_FAILED = 5_000


class RetryFailedRequest(BaseModel):
    since: AwareDatetime


class RetriedPublic(BaseModel):
    data: list[str]
    count: int


def _must_be_active(row: Connection) -> None:
    if row.status != ConnectionStatus.ACTIVE.value:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"the connection is {row.status}")


async def _redo(temporal: TemporalClientDep, row: Connection, message_ids: list[str]) -> RetriedPublic:
    try:
        await redo_messages(temporal, row.id, message_ids)
    except RedoRefused as refused:
        code = status.HTTP_409_CONFLICT if refused.gone else status.HTTP_503_SERVICE_UNAVAILABLE
        taken = f" ({refused.taken} of {len(message_ids)} taken)" if refused.taken else ""
        raise HTTPException(code, detail=f"{refused.reason}{taken}") from None
    except RPCError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the workflow engine did not answer; try again"
        ) from None
    return RetriedPublic(data=message_ids, count=len(message_ids))


@router.post("/{connection_id}/messages/{message_id}/retry")
async def retry_message(
    connection_id: uuid.UUID,
    message_id: str,
    session: SessionDep,
    engine: EngineDep,
    user: CurrentUser,
    temporal: TemporalClientDep,
) -> RetriedPublic:
    """Processes a failed message again; 409 when its outcome is not failed."""
    row = await load_owned_connection(session, user, connection_id)
    _must_be_active(row)
    outcome = await asyncio.to_thread(outcome_of, engine, row.id, message_id)
    if outcome != "failed":
        said = f"its outcome is {outcome}" if outcome else "it has no outcome yet"
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"only a failed message is retried; {said}")
    return await _redo(temporal, row, [message_id])


@router.post("/{connection_id}/retry-failed")
async def retry_failed(
    connection_id: uuid.UUID,
    body: RetryFailedRequest,
    session: SessionDep,
    engine: EngineDep,
    user: CurrentUser,
    temporal: TemporalClientDep,
) -> RetriedPublic:
    """Processes again every message that failed since `since` (at most MAX_RETRY_FAILED, oldest first)."""
    row = await load_owned_connection(session, user, connection_id)
    _must_be_active(row)
    ids = await asyncio.to_thread(failed_since, engine, row.id, body.since, MAX_RETRY_FAILED)
    if not ids:
        return RetriedPublic(data=[], count=0)
    return await _redo(temporal, row, ids)
