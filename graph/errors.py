"""Graph API errors as types. Branch on the error `code` (and the status), never on the message text.

Messages carry the status, the code and Graph's request-id (what Microsoft support asks for); never a
token, a header or the response body.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx


class GraphError(Exception):
    def __init__(self, operation: str, status: int, code: str = "", request_id: str | None = None) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.request_id = request_id
        detail = f"{operation}: Graph answered {status}" + (f" {code}" if code else "")
        if request_id:
            detail += f" (request-id {request_id})"
        super().__init__(detail)


class BadRequest(GraphError):
    """400: the request itself is wrong (e.g. the subscription validation handshake failed)."""


class Unauthorized(GraphError):
    """401 InvalidAuthenticationToken: the access token expired or is unknown; refresh once and retry."""


class Forbidden(GraphError):
    """403 accessDenied: the call needs a scope the user did not grant."""


class ScopeNotGranted(Forbidden):
    """Refused by this client before any request: the call needs a scope the connection was not granted
    (e.g. sending without Mail.Send, reading without Mail.Read). A Forbidden, so whoever handles Graph's
    own 403 handles it alike; `status` is 0 because Graph was never asked."""

    def __init__(self, operation: str, scope: str) -> None:
        super().__init__(operation, 0, "scopeNotGranted")
        self.scope = scope
        self.args = (
            f"{operation}: needs {scope}, which the connection was not granted; no request was sent",
        )


class NotFound(GraphError):
    """404: the message, folder or subscription does not exist (any more)."""


class Conflict(GraphError):
    """409: e.g. a subscription with the same changeType and resource already exists for this app."""


class SyncStateExpired(GraphError):
    """410 Gone / syncStateNotFound / resyncRequired: the delta link is dead; start a full resync."""


class Throttled(GraphError):
    """429, or 503/504 while Graph sheds load. `retry_after` is in seconds (fractional allowed), or None
    when Graph sent no Retry-After (then back off exponentially)."""

    def __init__(
        self,
        operation: str,
        status: int,
        code: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(operation, status, code, request_id)
        self.retry_after = retry_after


class GraphUnavailable(GraphError):
    """Other 5xx answers and transport failures (connection refused, timeout): try again later."""


_SYNC_STATE_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
_UNAUTHORIZED_CODES = {"invalidauthenticationtoken"}
_FORBIDDEN_CODES = {"accessdenied", "erroraccessdenied", "authorization_requestdenied"}
_NOT_FOUND_CODES = {"erroritemnotfound", "itemnotfound", "resourcenotfound", "request_resourcenotfound"}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (Graph sends fractions like `2.128`)
    or an HTTP date. None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


def _error_code(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body: Any = response.json()
    except ValueError:
        return "", response.headers.get("request-id")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", response.headers.get("request-id")
    code = error.get("code")
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    return (code if isinstance(code, str) else ""), (request_id or response.headers.get("request-id"))


def error_from_response(operation: str, response: httpx.Response) -> GraphError:
    status = response.status_code
    code, request_id = _error_code(response)
    key = code.lower()
    if status == 410 or key in _SYNC_STATE_CODES:
        return SyncStateExpired(operation, status, code, request_id)
    if status in (429, 503, 504):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Throttled(operation, status, code, request_id, retry_after)
    if status == 401 or key in _UNAUTHORIZED_CODES:
        return Unauthorized(operation, status, code, request_id)
    if status == 403 or key in _FORBIDDEN_CODES:
        return Forbidden(operation, status, code, request_id)
    if status == 404 or key in _NOT_FOUND_CODES:
        return NotFound(operation, status, code, request_id)
    if status == 409:
        return Conflict(operation, status, code, request_id)
    if status >= 500:
        return GraphUnavailable(operation, status, code, request_id)
    return BadRequest(operation, status, code, request_id)
