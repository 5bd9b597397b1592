"""One transaction for many webhook requests: concurrent `put`s in a process are written together.

At hundreds of notification POSTs a second every request committing on its own means hundreds of write
transactions a second competing for the database's write lock (SQLite has one for the whole file, and
its busy handler backs off by sleeping), which is where the webhook's latency went. Here a request's
entries join the batch being collected while a write is under way and are committed with it by the next
write: each request still answers only after its own entries are durably stored, and a failure fails
the requests whose entries were in that write (each gets a 503, so Graph retries them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], max_items: int = 2000) -> None:
        self._write = write  # synchronous: runs in a worker thread, one transaction per call
        self._max_items = max_items
        self._waiting: list[tuple[list[T], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def put(self, items: Sequence[T]) -> None:
        if not items:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(items), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        # Shielded: a client that hangs up does not cancel a write other requests wait for.
        await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._waiting:
            group: list[tuple[list[T], asyncio.Future[None]]] = []
            count = 0
            while self._waiting and (not group or count + len(self._waiting[0][0]) <= self._max_items):
                items, done = self._waiting.pop(0)
                group.append((items, done))
                count += len(items)
            await self._commit(group)

    async def _commit(self, group: list[tuple[list[T], asyncio.Future[None]]]) -> None:
        try:
            await asyncio.to_thread(self._write, [item for items, _ in group for item in items])
        except IntegrityError as err:
            if len(group) == 1:
                _fail(group, err)
                return
            # One request's entries broke a constraint (its connection deleted meanwhile): write each
            # request alone, so only that one fails.
            for one in group:
                await self._commit([one])
        except Exception as exc:  # the database is down or locked: these requests answer 503
            _fail(group, exc)
        else:
            for _, done in group:
                if not done.done():
                    done.set_result(None)


def _fail(group: list[tuple[list[T], asyncio.Future[None]]], exc: BaseException) -> None:
    for _, done in group:
        if not done.done():
            done.set_exception(exc)
