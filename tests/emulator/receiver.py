"""A real webhook receiver (FastAPI on uvicorn, in a thread) for the emulator's subscription tests.

Each test takes its own `Hook` (a unique path prefix) so one receiver serves the whole session and
tests never see each other's traffic. A hook answers the validation handshake like a correct client
(200, text/plain, the token unchanged) unless told otherwise, records every notification POST, and can
be scripted to answer with given statuses or delays so that retries can be observed.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from tests.support.emulator_server import free_port

_counter = itertools.count(1)


@dataclass
class Received:
    at: float
    kind: str  # "notify" or "lifecycle"
    body: Any
    headers: dict[str, str]
    status: int


@dataclass
class Validation:
    at: float
    kind: str
    method: str
    token: str
    content_type: str


@dataclass
class Hook:
    key: str
    base: str
    # "echo" answers correctly; "error" answers 500; "wrong" answers a different token; "html" answers
    # the right token as text/html; "slow" waits validation_delay seconds, then answers correctly;
    # "trickle" sends status and headers at once, then the token in four parts validation_delay apart
    # (every single wait is short, the whole answer is not).
    validation_mode: dict[str, str] = field(default_factory=lambda: {"notify": "echo", "lifecycle": "echo"})
    validation_delay: float = 0.0
    statuses: deque[int] = field(default_factory=deque)  # next answers to notification POSTs
    delays: deque[float] = field(default_factory=deque)  # next delays (seconds) before answering
    received: list[Received] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    callbacks: list[dict[str, str]] = field(default_factory=list)

    @property
    def notify_url(self) -> str:
        return f"{self.base}/hook/{self.key}/notify"

    @property
    def lifecycle_url(self) -> str:
        return f"{self.base}/hook/{self.key}/lifecycle"

    @property
    def callback_url(self) -> str:
        return f"{self.base}/callback/{self.key}"

    def notifications(self) -> list[dict[str, Any]]:
        """Every change notification item (from successfully answered POSTs and failed ones alike)."""
        return [item for r in self.received if r.kind == "notify" for item in r.body.get("value", [])]

    def accepted_notifications(self) -> list[dict[str, Any]]:
        return [
            item
            for r in self.received
            if r.kind == "notify" and 200 <= r.status < 300
            for item in r.body.get("value", [])
        ]

    def lifecycle_events(self) -> list[dict[str, Any]]:
        return [item for r in self.received if r.kind == "lifecycle" for item in r.body.get("value", [])]

    async def wait_for(
        self, predicate: Callable[[Hook], bool], timeout: float = 10.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; received={self.received!r}"
                )
            await asyncio.sleep(0.05)


async def _trickle(token: str, pause: float) -> AsyncIterator[bytes]:
    data = token.encode()
    step = -(-len(data) // 4)
    for start in range(0, len(data), step):
        if start:
            await asyncio.sleep(pause)
        yield data[start : start + step]


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.hooks: dict[str, Hook] = {}
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def hook(self) -> Hook:
        key = f"h{next(_counter)}"
        hook = Hook(key=key, base=self.base)
        with self._lock:
            self.hooks[key] = hook
        return hook

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook/{key}/{kind}")
        async def hook_post(key: str, kind: str, request: Request) -> Response:
            hook = self.hooks.get(key)
            if hook is None:
                return Response(status_code=404)
            token = request.query_params.get("validationToken")
            if token is not None:
                hook.validations.append(
                    Validation(
                        at=time.time(),
                        kind=kind,
                        method=request.method,
                        token=token,
                        content_type=request.headers.get("content-type", ""),
                    )
                )
                mode = hook.validation_mode.get(kind, "echo")
                if mode == "error":
                    return Response(status_code=500)
                if mode == "slow":
                    await asyncio.sleep(hook.validation_delay)
                if mode == "trickle":
                    return StreamingResponse(
                        _trickle(token, hook.validation_delay),
                        media_type="text/plain",
                        headers={"X-Content-Type-Options": "nosniff"},
                    )
                body = token + "-tampered" if mode == "wrong" else token
                return Response(
                    content=body,
                    media_type="text/html" if mode == "html" else "text/plain",
                    headers={"X-Content-Type-Options": "nosniff"},
                )
            payload = await request.json()
            status = hook.statuses.popleft() if hook.statuses else 202
            delay = hook.delays.popleft() if hook.delays else 0.0
            hook.received.append(
                Received(
                    at=time.time(), kind=kind, body=payload, headers=dict(request.headers), status=status
                )
            )
            if delay:
                await asyncio.sleep(delay)
            return Response(status_code=status)

        @app.get("/callback/{key}")
        async def callback(key: str, request: Request) -> Response:
            hook = self.hooks.get(key)
            if hook is None:
                return Response(status_code=404)
            hook.callbacks.append(dict(request.query_params))
            return Response(content="signed in", media_type="text/plain")

        return app

    def start(self) -> Receiver:
        config = uvicorn.Config(
            self._app(), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="webhook-receiver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("webhook receiver did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
