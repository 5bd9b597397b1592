"""Temporal's remote codec (codec server) for operators: the UI and CLI decode payloads through the API.

Wire format (Temporal's codec server protocol, as in samples-python `encryption/codec_server.py`): the
proto3 JSON of `temporal.api.common.v1.Payloads`, `{"payloads": [{"metadata": {k: base64}, "data":
base64}]}`, in and out. Only admins may call it: decoded payloads are email content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from api.deps import CurrentAdmin, EngineDep
from audit.record import record_codec_decode
from codec.errors import CodecError, PayloadDecryptionFailed, UnknownKeyId
from db.accounts import User

log = logging.getLogger(__name__)
router = APIRouter(prefix="/codec", tags=["codec"])


async def get_payload_codec(request: Request) -> PayloadCodec:
    """The process's codec, which the lifespan builds (api.deps.app_state wants a concrete class)."""
    codec: PayloadCodec = request.app.state.payload_codec
    return codec


PayloadCodecDep = Annotated[PayloadCodec, Depends(get_payload_codec)]

# Temporal refuses payloads over 2 MB and gRPC messages over 4 MB; base64 adds a third. 8 MiB takes the
# largest request the UI or CLI can make and still stops a client from filling memory.
MAX_BODY_BYTES = 8 * 1024 * 1024

_SHAPE = '{"payloads": [{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}]}'
_BAD_BODY = f"body is not a JSON Payloads message: expected {_SHAPE}"


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the cap (not after buffering all of it)."""
    too_large = HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"body over {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)


async def _parse(request: Request) -> Payloads:
    # application/json only: a cross-origin page must then pass a CORS preflight, which only the
    # Temporal UI's origin does, so no other site can make a signed-in browser call this (no CSRF).
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send content-type: application/json"
        )
    body = await _read_body(request)
    try:
        # Our own json.loads first: json_format accepts a bare `[]` as an empty message.
        document: Any = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON or UTF-8; absurd nesting
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=_BAD_BODY) from None
    if not isinstance(document, dict) or not isinstance(document.get("payloads"), list):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=_BAD_BODY)
    try:
        return json_format.ParseDict(document, Payloads())
    except (json_format.ParseError, RecursionError):
        # A fixed message: the parser's own may quote the input.
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=_BAD_BODY) from None


def _answer(payloads: Sequence[Payload]) -> Response:
    # Built by hand so an empty list still answers {"payloads": []} (MessageToJson drops it).
    body = {"payloads": [json_format.MessageToDict(payload) for payload in payloads]}
    return Response(json.dumps(body), media_type="application/json")


@router.post("/encode")
async def encode(request: Request, _admin: CurrentAdmin, codec: PayloadCodecDep) -> Response:
    """Encodes (encrypts) payloads with the current key, for input typed into the UI or CLI."""
    payloads = await _parse(request)
    with _keys_unavailable_is_503():
        encoded = await codec.encode(payloads.payloads)
    return _answer(encoded)


@router.post("/decode")
async def decode(
    request: Request, admin: CurrentAdmin, codec: PayloadCodecDep, engine: EngineDep
) -> Response:
    """Decodes (decrypts) payloads from a workflow's history."""
    payloads = await _parse(request)
    count = len(payloads.payloads)
    try:
        with _keys_unavailable_is_503():
            decoded = await codec.decode(payloads.payloads)
    except (UnknownKeyId, PayloadDecryptionFailed, DecodeError) as exc:
        # The caller sent it (a key id we lack, altered ciphertext or metadata). The codec's message
        # names key ids, ours and theirs: the caller learns only that it failed, the log only how.
        log.info("codec decode refused: %s", type(exc).__name__)
        await _audited(engine, admin, count, "refused")
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="a payload could not be decoded: unknown key or altered data",
        ) from None
    # Decoded payloads are email content: none leaves without its audit entry.
    await _audited(engine, admin, count, "decoded")
    return _answer(decoded)


async def _audited(engine: Engine, admin: User, count: int, outcome: str) -> None:
    try:
        await record_codec_decode(engine, admin, count, outcome)
    except SQLAlchemyError as exc:
        log.warning(
            "codec decode not answered: its audit entry could not be written (%s)", type(exc).__name__
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the audit log is not available; try again"
        ) from None


@contextmanager
def _keys_unavailable_is_503() -> Iterator[None]:
    """The keyring could not be loaded (Vault down, not set up): our side, and maybe soon over."""
    try:
        yield
    except (UnknownKeyId, PayloadDecryptionFailed):
        raise
    except CodecError as exc:
        log.warning("codec keyring unavailable: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the codec's keys are not available; try again"
        ) from None
