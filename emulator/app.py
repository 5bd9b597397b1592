"""Builds the emulator's ASGI app: state, background tasks and routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from emulator import mail, send, subscriptions  # noqa: F401  (they register Graph routes)
from emulator import snapshot as snapshots
from emulator.consent import router as consent_router
from emulator.context import Ctx
from emulator.control import router as control_router
from emulator.control_mailbox import router as control_mailbox_router
from emulator.discovery import router as discovery_router
from emulator.errors import GraphError, graph_error_response
from emulator.graph import router as graph_router
from emulator.identity import router as identity_router
from emulator.jwt_keys import SigningKey
from emulator.mail_pages import router as mail_pages_router
from emulator.notifier import Notifier
from emulator.settings import EmulatorSettings
from emulator.store import Store
from emulator.sweeper import run_sweeper
from emulator.throttle import Throttle

log = logging.getLogger("emulator")


def create_app(settings: EmulatorSettings) -> FastAPI:
    snapshot_path = settings.snapshot_path()
    store = Store(settings, snapshots.load(snapshot_path))
    keys = SigningKey(settings.data_dir)
    notifier = Notifier(settings, store)
    ctx = Ctx(settings=settings, store=store, keys=keys, notifier=notifier, throttle=Throttle(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        snap = (
            snapshots.Snapshotter(store, snapshot_path, settings.snapshot_debounce_seconds)
            if snapshot_path
            else None
        )
        await notifier.start()
        if snap is not None:
            await snap.start()
        sweeper = asyncio.create_task(run_sweeper(store, notifier))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await notifier.stop()
            if snap is not None:
                await snap.stop()

    app = FastAPI(
        title="Outlook emulator", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.ctx = ctx
    # Most frequent first: routes are matched in order (message delivery is the benchmark's hot path).
    app.include_router(control_mailbox_router)
    app.include_router(control_router)
    app.include_router(graph_router)
    app.include_router(discovery_router)
    app.include_router(identity_router)
    app.include_router(consent_router)
    app.include_router(mail_pages_router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Never a stack trace to the client; the log keeps the detail.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.url.path.startswith("/v1.0/"):
            return graph_error_response(
                GraphError(500, "generalException", "An internal error occurred."), str(uuid.uuid4())
            )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app
