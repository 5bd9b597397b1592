"""Optional JSON snapshot: loaded at start, written (debounced) after changes and at shutdown, so
restarts keep mailboxes, grants, tokens and subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from pydantic import ValidationError

from emulator.models import State
from emulator.store import Store

log = logging.getLogger("emulator.snapshot")


def load(path: Path | None) -> State | None:
    if path is None or not path.exists():
        return None
    try:
        return State.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError) as exc:
        log.warning("ignoring unreadable snapshot %s: %s", path, type(exc).__name__)
        return None


def dump(store: Store) -> str:
    with store.lock:
        return store.state.model_dump_json()


def write_data(data: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    # Tokens and secrets live in it: owner-only.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


class Snapshotter:
    def __init__(self, store: Store, path: Path, debounce: float) -> None:
        self.store = store
        self.path = path
        self.debounce = debounce
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        store.dirty_listeners.append(self._dirty.set)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.debounce)
            self._dirty.clear()
            # Dumped on the event loop (where all mutations happen), written in a thread.
            await asyncio.to_thread(write_data, dump(self.store), self.path)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        write_data(dump(self.store), self.path)
