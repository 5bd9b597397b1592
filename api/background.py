"""What the API's background tasks (the forwarders) share."""

from __future__ import annotations

import asyncio
import contextlib


async def pause(seconds: float, until: asyncio.Event) -> None:
    """Waits `seconds`, or less if `until` is set meanwhile (a wake-up, a stop)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until.wait(), seconds)
