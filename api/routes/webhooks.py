"""Graph's webhooks: the validation handshake, change notifications and lifecycle notifications.

Graph wants a 2xx within 3 s (graph-facts.md), so these handlers only check and store: look up the
subscriptions, compare clientState, write what was accepted to the outbox in one transaction, answer 202.
The outbox forwarder (api/webhook_forwarder.py) signals the connections' workflows afterwards, so a slow
or unreachable Temporal never delays or fails the answer. Only when the database cannot store the
notifications do they answer 503, so Graph delivers them again: nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.json_body import require_json
from api.webhook_deps import DirectoryDep, ForwarderDep, OutboxDep, VerifierDep
from payloads.connection import LifecycleEvent
from telemetry.metrics import NOTIFICATIONS_ACKNOWLEDGED, NOTIFICATIONS_RECEIVED, WEBHOOK_ACK_SECONDS
from vault.errors import VaultStoreError
from webhooks.models import NotificationBatch
from webhooks.outbox import OutboxEntry
from webhooks.verify import Verified

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
    require_json(request)
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


@contextmanager
def _timed(endpoint: str) -> Iterator[None]:
    """The answer's latency by endpoint and status (the status of the HTTPException that ends it)."""
    started = time.perf_counter()
    status_code = "202"
    try:
        yield
    except HTTPException as exc:
        status_code = str(exc.status_code)
        raise
    except Exception:
        status_code = "500"
        raise
    finally:
        WEBHOOK_ACK_SECONDS.labels(endpoint=endpoint, status=status_code).observe(
            time.perf_counter() - started
        )


async def _verified(
    request: Request, directory: DirectoryDep, verifier: VerifierDep, endpoint: str
) -> list[Verified]:
    batch = await _read_batch(request)
    NOTIFICATIONS_RECEIVED.labels(endpoint=endpoint).inc(len(batch.value))
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
    outbox: OutboxDep,
    forwarder: ForwarderDep,
    validationToken: str | None = None,
) -> Response:
    """Change notifications for our subscriptions (or the validation handshake)."""
    if validationToken is not None:
        return _handshake(validationToken)
    with _timed("change"):
        by_connection: dict[str, list[str]] = {}
        verified = await _verified(request, directory, verifier, "change")
        for v in verified:
            message_id = _message_id(v)
            ids = by_connection.setdefault(v.connection_id, [])
            if message_id and message_id not in ids:
                ids.append(message_id)
        # One row per connection per request; the forwarder merges rows into one signal per connection.
        entries = [
            OutboxEntry(connection_id=uuid.UUID(cid), message_ids=ids)
            for cid, ids in by_connection.items()
            if ids
        ]
        await _store(outbox, forwarder, entries)
        NOTIFICATIONS_ACKNOWLEDGED.labels(endpoint="change").inc(len(verified))
    # Only the "last notification" time shown to people: noted in memory, written a second later.
    await directory.note_notifications(list(by_connection))
    return Response(status_code=status.HTTP_202_ACCEPTED)


def _message_id(verified: Verified) -> str | None:
    """The id from resourceData (the documented place); the resource path's last segment otherwise."""
    n = verified.notification
    if n.resource_data is not None:
        return n.resource_data.id
    if n.resource and "/messages/" in n.resource.lower():
        return n.resource.rsplit("/", 1)[-1] or None
    return None


async def _store(outbox: OutboxDep, forwarder: ForwarderDep, entries: list[OutboxEntry]) -> None:
    """Writes the accepted notifications durably, or answers 503 so that Graph delivers them again."""
    if not entries:
        return
    try:
        await outbox.put(entries)
    except SQLAlchemyError as err:
        # "database is locked" after the busy timeout, a lost PostgreSQL, ...: the type says enough
        # (the message could quote the statement's parameters).
        log.warning("could not store %d notification(s) in the outbox (%s)", len(entries), type(err).__name__)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="try again later") from None
    forwarder.wake()


@router.post("/lifecycle", status_code=status.HTTP_202_ACCEPTED)
async def lifecycle_notifications(
    request: Request,
    directory: DirectoryDep,
    verifier: VerifierDep,
    outbox: OutboxDep,
    forwarder: ForwarderDep,
    validationToken: str | None = None,
) -> Response:
    """Lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed."""
    if validationToken is not None:
        return _handshake(validationToken)
    known = {e.value.lower(): e for e in LifecycleEvent}
    with _timed("lifecycle"):
        entries: list[OutboxEntry] = []
        verified = await _verified(request, directory, verifier, "lifecycle")
        for v in verified:
            raw = (v.notification.lifecycle_event or "").lower()
            if raw not in known:
                log.info("ignoring unknown lifecycle event %r", raw[:64])
                continue
            entry = OutboxEntry(connection_id=uuid.UUID(v.connection_id), lifecycle_event=known[raw])
            if entry not in entries:
                entries.append(entry)
        await _store(outbox, forwarder, entries)
        NOTIFICATIONS_ACKNOWLEDGED.labels(endpoint="lifecycle").inc(len(verified))
    return Response(status_code=status.HTTP_202_ACCEPTED)
