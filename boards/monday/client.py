"""monday.com's GraphQL API over httpx: one POST per document, errors read into typed exceptions.

It never retries by itself: a rate limit or an outage becomes an exception carrying monday.com's wait,
and the Temporal activity retries exactly then (boards.monday.errors.retry_semantics). The token is sent
only in the Authorization header and is kept as a SecretStr, so it is never in a repr, log or message.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from boards.monday.errors import MondayError, MondayRequestRejected, MondayUnavailable
from boards.monday.wire_errors import error_for_status, error_in_body

# The API version requested on every call (monday.com's API-Version header); schema.graphql matches it.
API_VERSION = "2024-10"
DEFAULT_API_URL = "https://api.monday.com/v2"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class MondayClient:
    def __init__(
        self, http: httpx.AsyncClient, api_url: str, token: SecretStr, *, api_version: str = API_VERSION
    ) -> None:
        self._http = http
        self._api_url = api_url
        self._token = token
        self._api_version = api_version

    async def execute(self, document: str, variables: dict[str, Any], *, operation: str) -> dict[str, Any]:
        """The answer's `data` when it carries no error; otherwise raises a boards.monday.errors type."""
        headers = {
            "Authorization": self._token.get_secret_value(),
            "API-Version": self._api_version,
            "Content-Type": "application/json",
        }
        try:
            response = await self._http.post(
                self._api_url,
                json={"query": document, "variables": variables},
                headers=headers,
                timeout=TIMEOUT,
            )
        except httpx.TimeoutException:
            raise MondayUnavailable(f"{operation}: monday.com did not answer in time") from None
        except httpx.HTTPError as exc:
            # `from None` and only the kind: httpx errors carry the request, whose headers hold the token.
            raise MondayUnavailable(f"{operation}: monday.com unreachable ({type(exc).__name__})") from None
        error = error_for_status(response, operation)
        if error is not None:
            raise error
        try:
            body = response.json()
        except ValueError:
            raise MondayUnavailable(f"{operation}: monday.com answered something other than JSON") from None
        if not isinstance(body, dict):
            raise MondayUnavailable(f"{operation}: monday.com answered something other than an object")
        error = error_in_body(body, operation)
        if error is not None:
            raise error
        if response.status_code >= 400:
            raise MondayRequestRejected(f"{operation}: monday.com answered HTTP {response.status_code}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise MondayError(f"{operation}: monday.com answered without data")
        return data
