"""monday.com's webhooks: POST /webhooks/monday/{secret}, one URL per outgoing recipe on a monday board.

monday.com does not sign the webhooks created through its API (only an app's get a JWT), so the URL
carries a random secret of its own (boards/monday/triggers.py registers it; only its hash is stored):
anything with an unknown secret is refused with 404, before its body matters. The handshake
({"challenge"}) is echoed for a known secret. An event is stored as a board event in the transaction
that decides the 200, so nothing acknowledged is lost; the board event forwarder takes it from there
(woken at once). monday.com retries a delivery that got no 2xx; its triggerUuid keeps a repeat to one
event. The path is redacted from logs (config/logging.py).
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.board_event_forwarder import wake_board_events
from api.deps import EngineDep
from api.json_body import require_json
from boards.monday import inbound
from boards.monday.webhook_events import MondayDelivery

log = logging.getLogger("api.monday_webhooks")
router = APIRouter(prefix="/webhooks/monday", tags=["webhooks"])

MAX_BODY_BYTES = 256_000
_NOT_FOUND = "no such webhook"


def _unavailable() -> HTTPException:
    # 503: monday.com delivers it again later; nothing was acknowledged.
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="cannot store the event now")


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 once it exceeds the limit (declared or read: never held in full)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="the body is too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail="the body is too large")
    return body


@router.post("/{secret}", include_in_schema=False)
async def monday_webhook(secret: str, request: Request, engine: EngineDep) -> JSONResponse:
    # An unknown secret is a 404 whatever the body (its size included): only our webhook's caller
    # learns that its body is wrong.
    if not inbound.well_formed(secret):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NOT_FOUND)
    try:
        if not await asyncio.to_thread(inbound.known, engine, secret):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NOT_FOUND)
        require_json(request)
        raw = await _read_body(request)
        try:
            delivery = MondayDelivery.model_validate_json(raw)
        except ValidationError:
            delivery = None
        if delivery is None or (delivery.event is None and delivery.challenge is None):
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, detail="expected monday.com's {challenge} or {event} JSON"
            )
        if delivery.event is None:
            return JSONResponse({"challenge": delivery.challenge})
        stored = await asyncio.to_thread(inbound.store, engine, secret, delivery.event)
    except SQLAlchemyError as err:
        log.warning("monday.com event not stored (%s); monday.com will retry", type(err).__name__)
        raise _unavailable() from None
    if stored == "unknown":
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=_NOT_FOUND)
    if stored == "stored":
        wake_board_events(request.app)
    return JSONResponse({})
