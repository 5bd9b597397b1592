"""Sign-in attempts, limited per client: guessing API tokens through the sign-in form stays slow.

Each client (its address as the API sees it) may fail MAX_FAILURES times within WINDOW_SECONDS; after
that every attempt, right or wrong, is answered 429 with Retry-After until the oldest failure leaves the
window (a correct token is refused too: otherwise the limit would not slow a guesser down). A success
clears the client's failures. Kept in each API process's memory: with N processes a client gets at
most N times the limit, which keeps guessing a 256-bit token hopeless all the same.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status

MAX_FAILURES = 10
WINDOW_SECONDS = 300.0
MAX_CLIENTS = 10_000  # tracked clients; the oldest entries go first beyond this


@dataclass
class SigninLimiter:
    max_failures: int = MAX_FAILURES
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        failures = self._failures.get(client)
        if not failures:
            return 0
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0
        if len(failures) < self.max_failures:
            return 0
        return max(1, math.ceil(self.window - (now - failures[0])))

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(client, deque()).append(self.clock())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def signin_limiter(request: Request) -> SigninLimiter:
    """The process's limiter, made on first use (tests get a fresh one with each app)."""
    limiter: SigninLimiter | None = getattr(request.app.state, "signin_limiter", None)
    if limiter is None:
        limiter = request.app.state.signin_limiter = SigninLimiter()
    return limiter


def refuse_if_limited(limiter: SigninLimiter, client: str) -> None:
    wait = limiter.retry_after(client)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed sign-in attempts from this client; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
