"""Prometheus metrics of the API processes: GET /metrics in the text format, no sign-in (like /healthz:
counts, outcomes and the outbox's depth, never an id, a mailbox or email content)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import EngineDep
from telemetry.exposition import CONTENT_TYPE, OutboxCollector, render

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(engine: EngineDep) -> Response:
    """Every API process's counters (summed in multiprocess mode) and the outbox read now."""
    body = await asyncio.to_thread(render, [OutboxCollector(engine)])
    return Response(body, media_type=CONTENT_TYPE)
