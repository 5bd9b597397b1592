"""Reads monday.com's error answers (every shape its API documents) into boards.monday.errors types."""

from __future__ import annotations

import re
from typing import Any

import httpx

from boards.monday.errors import (
    MondayError,
    MondayRateLimited,
    MondayRequestRejected,
    MondayTokenRefused,
    MondayUnavailable,
)

TOKEN_REFUSED_MESSAGE = (
    "monday.com refused the API token (invalid, revoked or without access): link monday.com again"
)

RATE_LIMIT_CODES = frozenset(
    {
        "COMPLEXITY_BUDGET_EXHAUSTED",
        "ComplexityException",
        "RATE_LIMIT_EXCEEDED",
        "Rate Limit Exceeded",
        "DAILY_LIMIT_EXCEEDED",
        "FIELD_LIMIT_EXCEEDED",
        "IP_RATE_LIMIT_EXCEEDED",
        "maxConcurrencyExceeded",
    }
)
AUTH_CODES = frozenset({"UserUnauthorizedException", "Unauthorized", "USER_UNAUTHORIZED", "UNAUTHENTICATED"})
UNAVAILABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "InternalServerException"})
# Refusals of the request itself: the same request gets the same answer.
REJECTED_CODES = frozenset(
    {
        "GRAPHQL_VALIDATION_FAILED",
        "GraphQLValidationError",
        "BAD_USER_INPUT",
        "InvalidArgumentException",
        "InvalidBoardIdException",
        "InvalidItemIdException",
        "InvalidColumnIdException",
        "InvalidGroupIdException",
        "InvalidUserIdException",
        "InvalidVersionException",
        "ColumnValueException",
        "CorrectedValueException",
        "ItemNameTooLongException",
        "ItemsLimitationException",
        "ResourceNotFoundException",
        "ParseError",
        "JsonParseException",
        "missingRequiredPermissions",
    }
)
_RESET_IN = re.compile(r"reset in (\d+(?:\.\d+)?) seconds?")


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: let the retry policy's backoff decide


def error_for_status(response: httpx.Response, operation: str) -> MondayError | None:
    """The error an HTTP status means on its own (401/403, 429, 5xx); None for 2xx and other 4xx."""
    status = response.status_code
    if status in (401, 403):
        return MondayTokenRefused(TOKEN_REFUSED_MESSAGE)
    if status == 429:
        body = _json(response)
        delay = retry_after_header(response)
        if delay is None and body is not None:
            delay = _delay_in(body)
        return MondayRateLimited(f"{operation}: monday.com rate limit (HTTP 429)", delay)
    if status >= 500:
        return MondayUnavailable(f"{operation}: monday.com answered HTTP {status}")
    return None


def error_in_body(body: dict[str, Any], operation: str) -> MondayError | None:
    """The error a JSON answer carries (`errors[]`, or the older top-level `error_code`); None if none."""
    codes: list[tuple[str, dict[str, Any]]] = []
    if isinstance(body.get("error_code"), str):
        codes.append((body["error_code"], body))
    for entry in body.get("errors") or []:
        if isinstance(entry, dict):
            raw = entry.get("extensions")
            extensions: dict[str, Any] = raw if isinstance(raw, dict) else {}
            code = extensions.get("code")
            codes.append(
                (
                    code if isinstance(code, str) else "UNKNOWN",
                    {**extensions, "message": entry.get("message")},
                )
            )
        else:
            # The older shape's errors are bare strings.
            codes.append(("UNKNOWN", {"message": entry}))
    if not codes:
        return None
    for code, details in codes:
        if code in AUTH_CODES or (details.get("status_code") in (401, 403) and code not in RATE_LIMIT_CODES):
            return MondayTokenRefused(TOKEN_REFUSED_MESSAGE)
    for code, details in codes:
        if code in RATE_LIMIT_CODES or details.get("status_code") == 429:
            return MondayRateLimited(f"{operation}: monday.com {code}", _delay_in(details))
    names = ", ".join(sorted({code for code, _ in codes}))
    if all(code in REJECTED_CODES for code, _ in codes):
        return MondayRequestRejected(f"{operation}: monday.com refused the request ({names})")
    if any(code in UNAVAILABLE_CODES for code, _ in codes):
        return MondayUnavailable(f"{operation}: monday.com failed ({names})")
    return MondayError(f"{operation}: monday.com answered with errors ({names})")


def _delay_in(details: dict[str, Any]) -> float | None:
    """retry_in_seconds (extensions or error_data), else the older "... reset in N seconds" text."""
    for holder in (details, details.get("error_data"), details.get("extensions")):
        if isinstance(holder, dict):
            value = holder.get("retry_in_seconds")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0.0, float(value))
    for key in ("error_message", "message"):
        text = details.get(key)
        if isinstance(text, str) and (match := _RESET_IN.search(text)):
            return float(match.group(1))
    return None


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
