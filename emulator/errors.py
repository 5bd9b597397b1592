"""Error bodies in Microsoft's exact shapes: Graph (`{"error": {code, message, innerError}}`) and the
identity platform's token endpoint (`{error, error_description, error_codes, ...}`)."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi.responses import JSONResponse


def graph_date() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def graph_error_response(
    err: GraphError, request_id: str, client_request_id: str | None = None
) -> JSONResponse:
    inner: dict[str, str] = {"date": graph_date(), "request-id": request_id}
    inner["client-request-id"] = client_request_id or request_id
    body = {"error": {"code": err.code, "message": err.message, "innerError": inner}}
    headers = {"request-id": request_id, "client-request-id": inner["client-request-id"], **err.headers}
    return JSONResponse(body, status_code=err.status, headers=headers)


class AadError(Exception):
    """A token endpoint error: status 400 (401 for invalid_client), AADSTS code in the description."""

    def __init__(
        self, error: str, code: int, description: str, status: int = 400, suberror: str | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.code = code
        self.description = description
        self.status = status
        self.suberror = suberror


def aad_error_body(err: AadError) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, object] = {
        "error": err.error,
        "error_description": (
            f"AADSTS{err.code}: {err.description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {stamp}"
        ),
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    return body


def aad_error_response(err: AadError) -> JSONResponse:
    return JSONResponse(aad_error_body(err), status_code=err.status, headers={"Cache-Control": "no-store"})
