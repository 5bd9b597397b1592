"""Change and lifecycle notification delivery: batched per notificationUrl, retried with backoff,
at-least-once, with the drop/duplicate/delay faults. One shared keep-alive httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulator.models import Faults, Message, Subscription, User
from emulator.serialize import iso7, message_id
from emulator.settings import EmulatorSettings
from emulator.store import Store
from emulator.urls import loggable

log = logging.getLogger("emulator.notifier")
PER_URL_CONCURRENCY = 4


@dataclass
class Item:
    url: str
    subscription_id: str
    payload: dict[str, Any]
    lifecycle: bool = False
    attempt: int = 0
    created: float = field(default_factory=time.time)


@dataclass
class Stats:
    enqueued: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dropped: int = 0
    lifecycle_sent: int = 0
    posts: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def lifecycle_payload(sub: Subscription, tenant_id: str, event: str) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": iso7(sub.expires, zulu=False),
        "tenantId": tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": event,
    }


class Notifier:
    def __init__(self, settings: EmulatorSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.pending: dict[str, list[Item]] = defaultdict(list)
        self.held: dict[str, list[Item]] = defaultdict(list)  # by subscription: delivery paused
        self.stats = Stats()
        self._wake = asyncio.Event()
        self._sem: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        # Reseeded whenever the faults are replaced (PUT), so the same faults drop the same notifications.
        self._drop_faults: Faults | None = None
        self._drop_random = random.Random(0)
        store.listeners.append(self.on_change)

    # -- lifecycle of the dispatcher -----------------------------------------------------------
    async def start(self) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self._client = httpx.AsyncClient(
            timeout=self.settings.notification_timeout_seconds,
            limits=limits,
            verify=self.settings.notification_verify_tls,
        )
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def pending_count(self) -> int:
        return (
            sum(len(v) for v in self.pending.values())
            + sum(len(v) for v in self.held.values())
            + len(self._tasks)
        )

    # -- producing -------------------------------------------------------------------------
    def on_change(
        self, user: User, folder_id: str, change_type: str, msg: Message, moved: bool = False
    ) -> None:
        now = time.time()
        tenant = self.settings.tenant_id
        for sub in list(self.store.state.subscriptions.values()):
            if sub.user_id != user.id or sub.expires <= now:
                continue
            kind_here = change_type
            if sub.folder_id is None and moved:
                if change_type == "deleted":
                    continue  # the mailbox still has it: reported once, as updated
                kind_here = "updated"
            if kind_here not in sub.change_types:
                continue
            if sub.folder_id is not None and sub.folder_id != folder_id:
                continue
            mid = message_id(msg, sub.immutable_ids)
            resource = f"Users/{user.id}/Messages/{mid}"
            kinds = [kind_here]
            if kind_here == "created" and "updated" in sub.change_types:
                kinds += ["updated"] * self.settings.extra_updated_notifications
            for kind in kinds:
                payload = {
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": iso7(sub.expires, zulu=False),
                    "changeType": kind,
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Message",
                        "@odata.id": resource,
                        "@odata.etag": f'W/"{msg.change_key}"',
                        "id": mid,
                    },
                    "clientState": sub.client_state,
                    "tenantId": tenant,
                }
                self.enqueue_change(sub, Item(sub.notification_url, sub.id, payload))

    def enqueue_change(self, sub: Subscription, item: Item) -> None:
        faults = self.store.faults
        self.stats.enqueued += 1
        if faults.drop_notifications or self._rate_drops(faults):
            self.stats.dropped += 1
            self.send_lifecycle(sub, "missed")
            return
        dup = faults.duplicate_notifications
        copies = 1 + (1 if dup is True else int(dup))
        for _ in range(copies):
            if sub.authorized_until <= time.time():
                self.held[sub.id].append(Item(item.url, item.subscription_id, item.payload))
            else:
                self.pending[item.url].append(Item(item.url, item.subscription_id, item.payload))
        self._wake.set()

    def _rate_drops(self, faults: Faults) -> bool:
        if not faults.drop_rate:
            return False
        if faults is not self._drop_faults:
            self._drop_faults = faults
            self._drop_random = random.Random(faults.drop_seed)
        return self._drop_random.random() < faults.drop_rate

    def send_lifecycle(self, sub: Subscription, event: str) -> None:
        if not sub.lifecycle_url:
            return
        if event == "missed":
            # One `missed` per subscription is enough while a burst is being dropped.
            for queued in self.pending.get(sub.lifecycle_url, []):
                if (
                    queued.lifecycle
                    and queued.subscription_id == sub.id
                    and queued.payload.get("lifecycleEvent") == "missed"
                    and queued.attempt == 0
                ):
                    return
        payload = lifecycle_payload(sub, self.settings.tenant_id, event)
        self.pending[sub.lifecycle_url].append(Item(sub.lifecycle_url, sub.id, payload, lifecycle=True))
        self._wake.set()

    def release_held(self, sub_id: str) -> None:
        for item in self.held.pop(sub_id, []):
            self.pending[item.url].append(item)
        self._wake.set()

    def drop_held(
        self, sub: Subscription, older_than: float | None = None, notify_missed: bool = True
    ) -> None:
        items = self.held.get(sub.id, [])
        if not items:
            return
        keep = [i for i in items if older_than is not None and i.created > older_than]
        lost = len(items) - len(keep)
        if keep:
            self.held[sub.id] = keep
        else:
            self.held.pop(sub.id, None)
        if lost:
            self.stats.dropped += lost
            if notify_missed:
                self.send_lifecycle(sub, "missed")

    def forget(self, sub_id: str) -> None:
        self.held.pop(sub_id, None)

    # -- delivering ------------------------------------------------------------------------
    async def _run(self) -> None:
        coalesce = self.settings.notification_coalesce_ms / 1000
        while True:
            await self._wake.wait()
            self._wake.clear()
            if coalesce:
                await asyncio.sleep(coalesce)
            batch_max = max(self.settings.notification_batch_max, 1)
            for url in list(self.pending):
                items = self.pending.pop(url, [])
                for start in range(0, len(items), batch_max):
                    self._spawn(url, items[start : start + batch_max])

    def _spawn(self, url: str, batch: list[Item]) -> None:
        task = asyncio.create_task(self._deliver(url, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, batch: list[Item]) -> None:
        try:
            await self._deliver_once(url, batch)
        except asyncio.CancelledError:
            raise
        except Exception:  # never lose the dispatcher to one odd endpoint
            log.exception("delivery to %s failed unexpectedly", loggable(url))

    async def _deliver_once(self, url: str, batch: list[Item]) -> None:
        sem = self._sem.setdefault(url, asyncio.Semaphore(PER_URL_CONCURRENCY))
        async with sem:
            delay = self.store.faults.notification_delay_ms
            if delay:
                await asyncio.sleep(delay / 1000)
            ok = False
            status = 0
            assert self._client is not None
            self.stats.posts += 1
            try:
                # Slower than the limit counts as a failure, like Graph's 3-second rule.
                async with asyncio.timeout(self.settings.notification_timeout_seconds):
                    resp = await self._client.post(url, json={"value": [i.payload for i in batch]})
                status = resp.status_code
                ok = 200 <= resp.status_code < 300
            except (httpx.HTTPError, OSError, TimeoutError) as exc:
                log.debug("notification POST to %s failed: %s", loggable(url), type(exc).__name__)
            self._record(batch, status, ok)
        if ok:
            for item in batch:
                if item.lifecycle:
                    self.stats.lifecycle_sent += 1
                else:
                    self.stats.delivered += 1
            return
        self.stats.failed_attempts += 1
        retry: list[Item] = []
        for item in batch:
            item.attempt += 1
            if item.attempt >= self.settings.notification_max_attempts:
                if not item.lifecycle:
                    self.stats.dropped += 1
                    sub = self.store.state.subscriptions.get(item.subscription_id)
                    if sub is not None:
                        self.send_lifecycle(sub, "missed")
            else:
                retry.append(item)
        if retry:
            s = self.settings
            wait = min(
                s.notification_retry_base_seconds * 2 ** (retry[0].attempt - 1),
                s.notification_retry_max_seconds,
            )
            asyncio.get_running_loop().call_later(wait, self._requeue, url, retry)

    def _record(self, batch: list[Item], status: int, ok: bool) -> None:
        """The notification log: what was POSTed and how the service answered (0: no answer in time)."""
        now = time.time()
        state = self.store.state
        entries = self.store.notification_log
        for item in batch:
            sub = state.subscriptions.get(item.subscription_id)
            user = state.users.get(sub.user_id) if sub is not None else None
            data = item.payload.get("resourceData") or {}
            entries.append(
                {
                    "time": now,
                    "subscription_id": item.subscription_id,
                    "mailbox": user.email if user else None,
                    "change_type": item.payload.get("changeType"),
                    "lifecycle_event": item.payload.get("lifecycleEvent"),
                    "message_id": data.get("id") if isinstance(data, dict) else None,
                    "attempt": item.attempt + 1,
                    "status": status,
                    "acknowledged": ok,
                }
            )
        if len(entries) > 200_000:  # bounded: tests read recent entries
            del entries[: len(entries) - 200_000]

    def _requeue(self, url: str, items: list[Item]) -> None:
        self.pending[url].extend(items)
        self._wake.set()
