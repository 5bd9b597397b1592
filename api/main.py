"""The FastAPI app: `create_app(settings)` for tests and tools, module-level `app` for uvicorn."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.audit_context import AuditContextMiddleware
from api.codec_cors import CodecCORSMiddleware
from api.errors import RequestIdAndErrorsMiddleware
from api.routes import (
    account,
    activity,
    activity_pages,
    audit,
    auth,
    board_pages,
    boards,
    codec,
    connection_folders,
    connection_pages,
    connection_resync,
    connections,
    health,
    items,
    me,
    message_retry,
    metrics,
    monday,
    monday_webhooks,
    oauth,
    pages,
    recipe_dry_run,
    recipe_pages,
    recipes,
    users,
    webhooks,
)
from api.security_headers import SecurityHeadersMiddleware
from api.state import lifespan
from config.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="outlook-integration", lifespan=lifespan)
    app.state.settings = settings
    # Added first, so it sits inside the error middleware (the last added is the outermost).
    app.add_middleware(CodecCORSMiddleware, ui_url=settings.temporal_ui_url)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AuditContextMiddleware)
    app.add_middleware(RequestIdAndErrorsMiddleware)
    routers = (
        health,
        metrics,
        auth,
        pages,
        me,
        users,
        oauth,
        connections,
        connection_pages,
        recipe_pages,
        activity_pages,
        board_pages,
        webhooks,
    )
    for module in (
        *routers,
        connection_folders,
        boards,
        items,
        recipes,
        recipe_dry_run,
        activity,
        audit,
        message_retry,
        connection_resync,
        account,
        codec,
        monday,
        monday_webhooks,
    ):
        app.include_router(module.router)
    # The pages' stylesheet and scripts (the Content-Security-Policy allows no inline script).
    app.mount("/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"), name="static")
    return app


app = create_app()
