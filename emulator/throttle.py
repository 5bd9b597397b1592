"""Outlook-style throttling per app and mailbox: concurrent requests and a request budget per window."""

from __future__ import annotations

import random
import time
from collections import deque

from emulator.errors import GraphError
from emulator.settings import EmulatorSettings


def _retry_after(seconds: float) -> str:
    return f"{max(seconds, 0.001):.3f}"


class Throttle:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._inflight: dict[tuple[str, str], int] = {}
        self._history: dict[tuple[str, str], deque[float]] = {}

    def acquire(self, client_id: str, user_id: str, forced: bool = False) -> tuple[str, str]:
        key = (client_id, user_id)
        s = self.settings
        if forced:
            raise GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": _retry_after(random.uniform(0.2, 1.5))},
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
