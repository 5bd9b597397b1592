"""Request ids and the last line of defence: an unexpected error becomes a 500 without a stack trace.

A plain ASGI middleware (outermost), so it also covers errors raised by other middleware, and it gives
every response an X-Request-ID that log lines can be matched against.
"""

from __future__ import annotations

import json
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry import context

log = logging.getLogger("api.errors")

REQUEST_ID_HEADER = "x-request-id"


class RequestIdAndErrorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Every log line made while serving it names it (telemetry/json_logs.py).
        named = context.request_id.set(request_id)
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The trace goes to the log (with the id), never to the client.
            method, path = scope["method"], scope["path"]
            log.exception("unhandled error in %s %s (request_id=%s)", method, path, request_id)
            if response_started:
                raise
            body = json.dumps({"detail": "internal error", "request_id": request_id}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            context.request_id.reset(named)
