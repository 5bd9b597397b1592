"""An ASGI app served by uvicorn inside the test's event loop, on a given port, stopped on exit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import uvicorn
from fastapi import FastAPI


@asynccontextmanager
async def serving(
    app: FastAPI, port: int, lifespan: Literal["auto", "on", "off"] = "auto"
) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task
