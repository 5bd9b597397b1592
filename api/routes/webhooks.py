"""Graph's webhooks: the validation handshake, change notifications and lifecycle notifications.

Graph wants a 2xx within 3 s (graph-facts.md), so these handlers only check and hand off: look up the
subscriptions, compare clientState, signal the connection's workflow, answer 202. They never call Graph
and never process a message. Only when the hand-off itself fails do they answer 5xx, so Graph retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError, RPCStatusCode

from api import connecting
from api.deps import TemporalClientDep
from api.webhook_deps import DirectoryDep, VerifierDep
from models.connection import LifecycleEvent
from models.messages import NotifiedMessages
from vault.errors import VaultStoreError
from webhooks.models import NotificationBatch
from webhooks.verify import Verified
from workflows.connection import ConnectionWorkflow

log = logging.getLogger("api.webhooks")
router = APIRouter(prefix="/webhooks/graph", tags=["webhooks"])

MAX_BODY_BYTES = 1_000_000
MAX_VALIDATION_TOKEN = 1024


def _handshake(token: str) -> Response:
    """Echo the token exactly, as plain text that no browser will sniff into HTML (no reflected XSS)."""
    if len(token) > MAX_VALIDATION_TOKEN:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="validationToken is too long")
    return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})


async def _read_batch(request: Request) -> NotificationBatch:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="notification body too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="notification body too large")
    try:
        return NotificationBatch.model_validate_json(body)
    except ValidationError:
        # The error text could quote the body (and a clientState): say only that it is malformed.
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail="body is not a Graph notification collection"
        ) from None


async def _verified(request: Request, directory: DirectoryDep, verifier: VerifierDep) -> list[Verified]:
    batch = await _read_batch(request)
    try:
        connection_of = await directory.connections_for(n.subscription_id for n in batch.value)
        accepted = await verifier.verify(batch.value, connection_of)
    except (VaultStoreError, SQLAlchemyError):
        log.warning("clientState store or database unavailable; asking Graph to retry")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="try again later") from None
    dropped = len(batch.value) - len(accepted)
    if dropped:
        log.warning(
            "dropped %d of %d notifications (unknown subscription or clientState)", dropped, len(batch.value)
        )
    return accepted


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def change_notifications(
    request: Request,
    directory: DirectoryDep,
    verifier: VerifierDep,
    temporal: TemporalClientDep,
    validationToken: str | None = None,
) -> Response:
    """Change notifications for our subscriptions (or the validation handshake)."""
    if validationToken is not None:
        return _handshake(validationToken)
    by_connection: dict[str, list[str]] = defaultdict(list)
    for v in await _verified(request, directory, verifier):
        message_id = _message_id(v)
        if message_id and message_id not in by_connection[v.connection_id]:
            by_connection[v.connection_id].append(message_id)
    # One signal per connection per request, all at once: the hand-off is the only work done here.
    await _hand_off(
        [
            _signal(temporal, cid, ConnectionWorkflow.notified, NotifiedMessages(message_ids=ids))
            for cid, ids in by_connection.items()
        ]
    )
    try:
        await directory.note_notifications(by_connection)
    except SQLAlchemyError:
        # Only the "last notification" time shown to people; the notifications are handed off.
        log.warning("could not record the last notification time")
    return Response(status_code=status.HTTP_202_ACCEPTED)


def _message_id(verified: Verified) -> str | None:
    """The id from resourceData (the documented place); the resource path's last segment otherwise."""
    n = verified.notification
    if n.resource_data is not None:
        return n.resource_data.id
    if n.resource and "/messages/" in n.resource.lower():
        return n.resource.rsplit("/", 1)[-1] or None
    return None


async def _signal(temporal: TemporalClientDep, connection_id: str, signal: Any, arg: Any) -> None:
    handle = temporal.get_workflow_handle(connecting.workflow_id(connection_id))
    try:
        await handle.signal(signal, arg)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        # The connection has ended (disconnected): nothing of its mailbox is ours to handle any more.


async def _hand_off(signals: list[Coroutine[Any, Any, None]]) -> None:
    """Sends the signals concurrently. If Temporal did not take one (unreachable, overloaded), the
    answer is 503 so that Graph delivers the batch again: the workflows drop what they already have."""
    results = await asyncio.gather(*signals, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        log.warning(
            "could not hand %d notification signal(s) to Temporal: %s",
            len(failures),
            type(failures[0]).__name__,
        )
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="try again later")


@router.post("/lifecycle", status_code=status.HTTP_202_ACCEPTED)
async def lifecycle_notifications(
    request: Request,
    directory: DirectoryDep,
    verifier: VerifierDep,
    temporal: TemporalClientDep,
    validationToken: str | None = None,
) -> Response:
    """Lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed."""
    if validationToken is not None:
        return _handshake(validationToken)
    events: dict[str, list[LifecycleEvent]] = defaultdict(list)
    for v in await _verified(request, directory, verifier):
        raw = (v.notification.lifecycle_event or "").lower()
        known = {e.value.lower(): e for e in LifecycleEvent}
        if raw not in known:
            log.info("ignoring unknown lifecycle event %r", raw[:64])
            continue
        if known[raw] not in events[v.connection_id]:
            events[v.connection_id].append(known[raw])
    signals = [
        _signal(temporal, connection_id, ConnectionWorkflow.lifecycle, kind)
        for connection_id, kinds in events.items()
        for kind in kinds
    ]
    await _hand_off(signals)
    return Response(status_code=status.HTTP_202_ACCEPTED)
