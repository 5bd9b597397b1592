"""Builds the emulator's ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from emulator.settings import EmulatorSettings


def create_app(settings: EmulatorSettings) -> FastAPI:
    app = FastAPI(title="Outlook emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/_emulator/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
