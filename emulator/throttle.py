"""Outlook-style throttling per app and mailbox: concurrent requests and a request budget per window."""

from __future__ import annotations

import random
import time
from collections import deque

from emulator.errors import GraphError
from emulator.models import Faults
from emulator.settings import EmulatorSettings


def _retry_after(seconds: float) -> str:
    return f"{max(seconds, 0.001):.3f}"


class Throttle:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._inflight: dict[tuple[str, str], int] = {}
        self._history: dict[tuple[str, str], deque[float]] = {}
        # Reseeded whenever the faults are replaced (PUT), so the same faults throttle the same calls.
        self._rate_faults: Faults | None = None
        self._rate_random = random.Random(0)

    def rate_throttled(self, faults: Faults) -> float | None:
        """The throttle_rate fault: the Retry-After (seconds) for this call when it is one of the
        throttled fraction, else None. Both come from the generator seeded with throttle_seed."""
        if not faults.throttle_rate:
            return None
        if faults is not self._rate_faults:
            self._rate_faults = faults
            self._rate_random = random.Random(faults.throttle_seed)
        throttled = self._rate_random.random() < faults.throttle_rate
        wait = self._rate_random.uniform(0.2, 1.5)
        return wait if throttled else None

    def acquire(
        self, client_id: str, user_id: str, forced: bool = False, forced_wait: float | None = None
    ) -> tuple[str, str]:
        """`forced`: answer 429 whatever the limits say, with `forced_wait` as its Retry-After (random
        0.2-1.5 s when None)."""
        key = (client_id, user_id)
        s = self.settings
        if forced:
            wait = random.uniform(0.2, 1.5) if forced_wait is None else forced_wait
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": _retry_after(wait)},
            )
        if self._inflight.get(key, 0) >= s.throttle_max_concurrent:
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": _retry_after(random.uniform(0.1, 1.0))},
            )
        now = time.monotonic()
        history = self._history.setdefault(key, deque())
        while history and history[0] <= now - s.throttle_window_seconds:
            history.popleft()
        if len(history) >= s.throttle_budget:
            wait = history[0] + s.throttle_window_seconds - now
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its resource limit.",
                {"Retry-After": _retry_after(wait)},
            )
        history.append(now)
        self._inflight[key] = self._inflight.get(key, 0) + 1
        return key

    def limit(self, key: tuple[str, str], budget: int, window: float) -> None:
        """A plain sliding-window budget (subscription writes and listings per app)."""
        now = time.monotonic()
        history = self._history.setdefault(key, deque())
        while history and history[0] <= now - window:
            history.popleft()
        if len(history) >= budget:
            raise GraphError(
                429,
                "TooManyRequests",
                "Too many requests for this application.",
                {"Retry-After": _retry_after(history[0] + window - now)},
            )
        history.append(now)

    def release(self, key: tuple[str, str]) -> None:
        left = self._inflight.get(key, 1) - 1
        if left <= 0:
            self._inflight.pop(key, None)
        else:
            self._inflight[key] = left
