"""Graph error mapping: by status and error code, never by message; messages never carry secrets."""

from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import SecretStr

from graph.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GraphError,
    GraphUnavailable,
    NotFound,
    SyncStateExpired,
    Throttled,
    Unauthorized,
    error_from_response,
)
from graph.http_client import build_http_client
from graph.mail import GraphMail


def graph_response(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "error": {
            "code": code,
            # Graph's messages may quote request data; ours must never repeat them.
            "message": "secret-looking eyJ0eXAiOiJKV1Qi token text",
            "innerError": {"request-id": "5c1a0f2e-req", "date": "2026-11-30T03:00:00"},
        }
    }
    return httpx.Response(status, json=body, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "InvalidAuthenticationToken", Unauthorized),
        (403, "ErrorAccessDenied", Forbidden),
        (403, "accessDenied", Forbidden),
        (404, "ErrorItemNotFound", NotFound),
        (409, "ConflictError", Conflict),
        (410, "Gone", SyncStateExpired),
        (400, "syncStateNotFound", SyncStateExpired),
        (400, "resyncRequired", SyncStateExpired),
        (400, "BadRequest", BadRequest),
        (429, "ApplicationThrottled", Throttled),
        (503, "ServiceUnavailable", Throttled),
        (504, "GatewayTimeout", Throttled),
        (500, "InternalServerError", GraphUnavailable),
        (502, "BadGateway", GraphUnavailable),
    ],
)
def test_mapping(status: int, code: str, expected: type[GraphError]) -> None:
    error = error_from_response("op", graph_response(status, code))
    assert type(error) is expected
    assert error.code == code and error.status == status and error.request_id == "5c1a0f2e-req"
    assert "eyJ0" not in str(error) and "secret-looking" not in str(error)


def test_throttled_carries_fractional_retry_after() -> None:
    error = error_from_response("op", graph_response(429, "ApplicationThrottled", {"Retry-After": "2.128"}))
    assert isinstance(error, Throttled) and error.retry_after == 2.128
    no_header = error_from_response("op", graph_response(503, "ServiceUnavailable"))
    assert isinstance(no_header, Throttled) and no_header.retry_after is None


def test_non_json_error_body() -> None:
    error = error_from_response("op", httpx.Response(502, text="<html>bad gateway</html>"))
    assert isinstance(error, GraphUnavailable) and error.code == ""


async def test_unreachable_graph_is_unavailable_without_the_token() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with build_http_client() as http:
        graph = GraphMail(http, f"https://127.0.0.1:{port}/v1.0")
        with pytest.raises(GraphUnavailable) as excinfo:
            await graph.mailbox("m", SecretStr("at-very-secret")).get_me()
    assert "at-very-secret" not in str(excinfo.value)
