"""Per-mailbox limits shared by every Graph call in this process.

Outlook allows 4 concurrent requests per app and mailbox; more only earns 429s. After a 429 (or 503)
with Retry-After, no call to that mailbox may start before the instant it names: retrying early makes
the throttling last longer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_CONCURRENT_PER_MAILBOX = 4

log = logging.getLogger(__name__)


@dataclass
class _Mailbox:
    semaphore: asyncio.Semaphore
    not_before: float = 0.0  # time.monotonic() instant
    users: int = field(default=0)


class MailboxLimiter:
    def __init__(self, max_concurrent: int = MAX_CONCURRENT_PER_MAILBOX) -> None:
        self._max = max_concurrent
        self._mailboxes: dict[str, _Mailbox] = {}

    def not_before(self, mailbox: str) -> float:
        """The monotonic instant before which no call to this mailbox starts (0 when none)."""
        state = self._mailboxes.get(mailbox)
        return state.not_before if state else 0.0

    def defer(self, mailbox: str, seconds: float, client_request_id: str | None = None) -> None:
        """Graph said "retry after `seconds`" to the call `client_request_id`: hold every new call to
        this mailbox until then, and say so in the log with both instants (microseconds), so that an
        operator or a test can line the hold up with the calls' own ids (graph/request_ids.py)."""
        seconds = max(0.0, seconds)
        closed = time.time()  # read before the gate moves: the logged hold never starts late
        state = self._state(mailbox)
        state.not_before = max(state.not_before, time.monotonic() + seconds)
        log.warning(
            "Graph throttled this mailbox (client-request-id %s): no call to it from %s until %s",
            client_request_id or "-",
            _iso(closed),
            _iso(closed + seconds),
        )

    @asynccontextmanager
    async def slot(self, mailbox: str) -> AsyncIterator[None]:
        state = self._state(mailbox)
        state.users += 1
        try:
            while True:
                await _sleep_until(state.not_before)
                await state.semaphore.acquire()
                # A 429 may have moved the gate while this call waited for a free slot.
                if time.monotonic() >= state.not_before:
                    break
                state.semaphore.release()
            try:
                yield
            finally:
                state.semaphore.release()
        finally:
            state.users -= 1
            if state.users == 0 and time.monotonic() >= state.not_before:
                # Idle and not gated: forget it so thousands of mailboxes do not pile up.
                self._mailboxes.pop(mailbox, None)

    def _state(self, mailbox: str) -> _Mailbox:
        state = self._mailboxes.get(mailbox)
        if state is None:
            state = self._mailboxes[mailbox] = _Mailbox(asyncio.Semaphore(self._max))
        return state


# What defer() logs, read back by whoever lines the holds up with Graph's view (the chaos suite).
_HOLD_LINE = re.compile(
    r"client-request-id ([0-9a-f-]+)\): no call to it from ([0-9T:.+-]+) until ([0-9T:.+-]+)"
)


def logged_holds(text: str) -> dict[str, tuple[float, float]]:
    """client-request-id of a throttled call -> (from, until), Unix times, from log text (either
    format, text or JSON lines; other lines are skipped)."""
    holds: dict[str, tuple[float, float]] = {}
    for found in _HOLD_LINE.finditer(text):
        begins, ends = (datetime.fromisoformat(found[i]).timestamp() for i in (2, 3))
        holds[found[1]] = (begins, ends)
    return holds


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat(timespec="microseconds")


async def _sleep_until(instant: float) -> None:
    # asyncio may wake a timer a hair early; loop until the instant has really passed.
    while (remaining := instant - time.monotonic()) > 0:  # noqa: ASYNC110 - a deadline, not an event
        await asyncio.sleep(remaining)
