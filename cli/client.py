"""The API as the CLI sees it: JSON in and out over httpx, errors turned into ApiError (the API's
`detail`) and Unreachable (no answer at all), never a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

TIMEOUT_SECONDS = 60.0


class ApiError(Exception):
    """The API refused (`status`, its `detail` in words), or answered with something unusable (no status)."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Unreachable(Exception):
    """No answer from the API (refused, timed out, name not found, TLS failure)."""


def segment(value: str) -> str:
    """One path segment, with every reserved character escaped (a message id may contain = or +)."""
    return quote(value, safe="")


def describe_detail(detail: Any) -> str:
    """The API's `detail` in words: a string as is; FastAPI's validation list as `where: what` lines."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        lines = []
        for problem in detail:
            if isinstance(problem, dict):
                loc = ".".join(str(part) for part in problem.get("loc", []) if part != "body")
                msg = str(problem.get("msg", problem))
                lines.append(f"{loc}: {msg}" if loc else msg)
            else:
                lines.append(str(problem))
        return "; ".join(lines)
    return str(detail)


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return ApiError(response.status_code, describe_detail(body["detail"]))
    reason = response.reason_phrase or "error"
    return ApiError(response.status_code, f"{reason} (the answer carried no detail)")


@dataclass
class Api:
    """One API at `base_url`, called with `token` (none: the API answers 401 where it needs one)."""

    http: httpx.AsyncClient

    @classmethod
    def open(cls, base_url: str, token: str | None, transport: httpx.AsyncBaseTransport | None = None) -> Api:
        headers = {"Accept": "application/json", "User-Agent": "outlook-integration-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=TIMEOUT_SECONDS, transport=transport
        )
        return cls(http)

    async def close(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self.http.request(method, path, params=query, json=json)
        except httpx.TransportError as err:
            raise Unreachable(_why(err)) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    async def get(self, path: str, **params: Any) -> Any:
        return _json(await self.request("GET", path, params=params))

    async def post(self, path: str, body: Any = None) -> Any:
        return _json(await self.request("POST", path, json=body))

    async def patch(self, path: str, body: Any) -> Any:
        return _json(await self.request("PATCH", path, json=body))

    async def delete(self, path: str) -> Any:
        return _json(await self.request("DELETE", path))

    async def text(self, path: str) -> str:
        return (await self.request("GET", path)).text


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(None, "the answer was not JSON; is --api the service's URL?") from None


def _why(err: httpx.TransportError) -> str:
    said = str(err)
    if isinstance(err, httpx.TimeoutException):
        return f"no answer within {TIMEOUT_SECONDS:.0f} s"
    if isinstance(err, httpx.ConnectError):
        lowered = said.lower()
        if "name or service" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
            return "host name not found"
        if "ssl" in lowered or "certificate" in lowered:
            return f"TLS failed: {said}"
        return "nothing accepted the connection"
    return said or type(err).__name__
