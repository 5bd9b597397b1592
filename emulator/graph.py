"""The Graph v1.0 front door: path normalization, bearer-token checks, throttling, faults, the request
log, and dispatch to the mail and subscription handlers."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulator.context import Ctx, base_url, ctx_of
from emulator.errors import GraphError, graph_error_response
from emulator.models import AccessToken, User
from emulator.odata import parse_select, prefer_values

router = APIRouter()

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
_KEY_SEGMENT = re.compile(r"^([A-Za-z]+)\('([^']*)'\)$")
_WWW_AUTH = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)


@dataclass
class GraphReq:
    ctx: Ctx
    request: Request
    token: AccessToken
    user: User
    segments: list[str]  # after the me/users prefix; names lowercased, ids untouched
    prefer: dict[str, str]
    request_id: str
    base: str
    applied: list[str] = field(default_factory=list)  # Preference-Applied values
    message_id: str | None = None
    select: list[str] | None = None

    @property
    def query(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.request.query_params.items()}

    @property
    def immutable(self) -> bool:
        wanted = self.prefer.get("idtype", "").lower() == "immutableid"
        if wanted and 'IdType="ImmutableId"' not in self.applied:
            self.applied.append('IdType="ImmutableId"')
        return wanted

    @property
    def text_body(self) -> bool:
        wanted = self.prefer.get("outlook.body-content-type", "").lower() == "text"
        if wanted and 'outlook.body-content-type="text"' not in self.applied:
            self.applied.append('outlook.body-content-type="text"')
        return wanted

    def select_param(self) -> list[str] | None:
        self.select = parse_select(self.query.get("$select"))
        return self.select

    async def json_body(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure "
                "Content-Type header is set and payload is of valid JSON format.",
            ) from None
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "The request payload must be a JSON object.")
        return body

    def require(self, *scopes: str) -> None:
        if not any(s in self.token.scopes for s in scopes):
            raise GraphError(403, "accessDenied", "Access is denied. Check credentials and try again.")

    def url(self, path: str) -> str:
        return f"{self.base}/v1.0/{path}"


Handler = Callable[[GraphReq], Awaitable[Response]]
# Filled by the handler modules: (method, pattern) where pattern segments "*" match an id.
ROUTES: list[tuple[str, tuple[str, ...], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES.append((method, tuple(pattern.split("/")), fn))
        return fn

    return deco


def json_response(req: GraphReq, body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=ODATA_JSON)


def _split(path: str) -> list[str]:
    out: list[str] = []
    for raw in path.strip("/").split("/"):
        if not raw:
            continue
        m = _KEY_SEGMENT.match(raw)
        if m:
            out.extend([m.group(1), m.group(2)])
        else:
            out.append(raw)
    return out


def _match(segments: list[str]) -> tuple[tuple[str, ...], dict[str, Handler]] | None:
    found: dict[str, Handler] = {}
    pattern_found: tuple[str, ...] | None = None
    for method, pattern, fn in ROUTES:
        if len(pattern) != len(segments):
            continue
        if all(p == "*" or p == s.lower() for p, s in zip(pattern, segments, strict=True)):
            if pattern_found is None or pattern_found == pattern:
                pattern_found = pattern
                found[method] = fn
    return (pattern_found, found) if pattern_found is not None else None


def _authenticate(ctx: Ctx, request: Request) -> AccessToken:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise GraphError(
            401, "InvalidAuthenticationToken", "Access token is empty.", {"WWW-Authenticate": _WWW_AUTH}
        )
    token = ctx.store.state.access_tokens.get(header[7:].strip())
    if token is None:
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
            {"WWW-Authenticate": _WWW_AUTH},
        )
    if token.expires <= time.time():
        raise GraphError(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
            {"WWW-Authenticate": _WWW_AUTH},
        )
    return token


def _log(
    ctx: Ctx,
    request: Request,
    user: User | None,
    req: GraphReq | None,
    response: Response,
    started: float,
    client_id: str | None,
) -> None:
    retry_after = response.headers.get("Retry-After")
    entry = {
        "time": time.time(),
        # When the call reached the handler; `time` is when it was answered.
        "started": started,
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "mailbox": user.email if user else None,
        "message_id": req.message_id if req else None,
        "select": req.select if req else None,
        "status": response.status_code,
        "client_id": client_id,
        # The Retry-After this answer carried (seconds), else None.
        "retry_after": float(retry_after) if retry_after else None,
        # As the client sent it: Graph's support traces a call by it (tests read a version 7's time).
        "client_request_id": request.headers.get("client-request-id"),
    }
    log = ctx.store.request_log
    log.append(entry)
    if len(log) > 100_000:  # bounded: tests read recent entries
        del log[: len(log) - 100_000]


@router.api_route("/v1.0/{path:path}", methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
async def graph(path: str, request: Request) -> Response:
    ctx = ctx_of(request)
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id")
    user: User | None = None
    req: GraphReq | None = None
    throttle_key: tuple[str, str] | None = None
    client_id: str | None = None
    started = time.time()
    try:
        faults = ctx.store.faults
        token = _authenticate(ctx, request)
        client_id = token.client_id
        user = ctx.store.state.users.get(token.user_id)
        if user is None:
            raise GraphError(401, "InvalidAuthenticationToken", "The user of this token no longer exists.")
        segments = _split(path)
        if segments and segments[0].lower() == "me":
            segments = segments[1:]
            scoped = True
        elif len(segments) >= 2 and segments[0].lower() == "users":
            target = ctx.store.user_by_ref(segments[1])
            if target is None or target.id != user.id:
                # Delegated tokens reach only the signed-in user's mailbox.
                raise GraphError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            segments = segments[2:]
            scoped = True
        else:
            scoped = False
        key = ["me", *segments] if scoped else segments
        matched = _match(key)
        if matched is None:
            bad = segments[-1] if segments else path
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{bad}'.")
        _pattern, methods = matched
        handler = methods.get(request.method)
        if handler is None:
            raise GraphError(405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed.")
        rate_wait = ctx.throttle.rate_throttled(faults)
        throttle_key = ctx.throttle.acquire(
            token.client_id, user.id, forced=faults.throttle or rate_wait is not None, forced_wait=rate_wait
        )
        if faults.latency_ms:  # inside the concurrency window, like a slow mailbox server
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and random.random() < faults.error_rate:
            raise GraphError(503, "serviceNotAvailable", "Service unavailable: injected fault.")
        req = GraphReq(
            ctx=ctx,
            request=request,
            token=token,
            user=user,
            segments=segments,
            prefer=prefer_values(", ".join(request.headers.getlist("prefer"))),
            request_id=request_id,
            base=base_url(request),
        )
        response = await handler(req)
    except GraphError as err:
        response = graph_error_response(err, request_id, client_request_id)
    finally:
        if throttle_key is not None:
            ctx.throttle.release(throttle_key)
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id or request_id
    response.headers["OData-Version"] = "4.0"
    if req is not None and req.applied:
        response.headers["Preference-Applied"] = ", ".join(req.applied)
    _log(ctx, request, user, req, response, started, client_id)
    return response
