"""Per-mailbox limits shared by every Graph call in this process.

Outlook allows 4 concurrent requests per app and mailbox; more only earns 429s. After a 429 (or 503)
with Retry-After, no call to that mailbox may start before the instant it names: retrying early makes
the throttling last longer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MAX_CONCURRENT_PER_MAILBOX = 4


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

    def defer(self, mailbox: str, seconds: float) -> None:
        """Graph said "retry after `seconds`": hold every new call to this mailbox until then."""
        state = self._state(mailbox)
        state.not_before = max(state.not_before, time.monotonic() + max(0.0, seconds))

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


async def _sleep_until(instant: float) -> None:
    # asyncio may wake a timer a hair early; loop until the instant has really passed.
    while (remaining := instant - time.monotonic()) > 0:  # noqa: ASYNC110 - a deadline, not an event
        await asyncio.sleep(remaining)
