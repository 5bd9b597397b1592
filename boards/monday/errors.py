"""monday.com's errors as types, and how they become Temporal retry semantics (like activities/errors.py
does for Graph).

monday.com answers application errors with HTTP 200 and `errors[]` (each with `extensions.code`), rate
limits with `COMPLEXITY_BUDGET_EXHAUSTED` (`extensions.retry_in_seconds`), the older top-level
`ComplexityException` ("... reset in N seconds") or HTTP 429 with Retry-After, and a refused token with
401/403 or `UserUnauthorizedException`. Messages name the operation and monday.com's error code only:
monday.com's own message can echo a column value (email content), and nothing here ever holds the token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

TOKEN_REFUSED = "MondayTokenRefused"


class MondayError(Exception):
    """Base of the client's errors. Retrying later may help unless a subclass says otherwise."""


class MondayTokenRefused(MondayError):
    """The API token is invalid, revoked or lacks access; only a person can fix it (link again)."""


class MondayNotLinked(MondayError):
    """The account has no monday.com link (or its token is gone from Vault)."""


class MondayRateLimited(MondayError):
    """A rate or complexity limit; `retry_after` seconds is when monday.com says to try again."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MondayUnavailable(MondayError):
    """A 5xx, a timeout or a network error: the request may or may not have been carried out."""


class MondayRequestRejected(MondayError):
    """monday.com refused this request as such (an invalid document, argument or column value, a board
    that is gone): sending it again gives the same answer."""


NON_RETRYABLE = (MondayTokenRefused, MondayNotLinked, MondayRequestRejected)


@contextmanager
def retry_semantics(operation: str) -> Iterator[None]:
    """Wraps an activity's monday.com calls: waits as monday.com asks, stops where retrying cannot help."""
    try:
        yield
    except MondayRateLimited as err:
        delay = timedelta(seconds=err.retry_after) if err.retry_after is not None else None
        raise ApplicationError(
            f"{operation}: {err}", type="MondayRateLimited", next_retry_delay=delay
        ) from None
    except MondayTokenRefused as err:
        raise ApplicationError(f"{operation}: {err}", type=TOKEN_REFUSED, non_retryable=True) from None
    except NON_RETRYABLE as err:
        raise ApplicationError(f"{operation}: {err}", type=type(err).__name__, non_retryable=True) from None
    except MondayError as err:
        # `from None`: the message is ours and safe; a chained httpx error could carry request headers.
        raise ApplicationError(f"{operation}: {err}", type=type(err).__name__) from None
