"""Load for the mail benchmark: emails delivered through the emulator (as fast as it takes them, or on
an open-loop schedule), and notification batches POSTed straight to the API's webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import multiprocessing
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Stack

CUSTOMER = {"name": "Grace", "address": "grace@customer.example"}

# Called as a task (not awaited) per delivered message: the naive design's "notifier".
OnSent = Callable[[str, "Mailbox"], Coroutine[Any, Any, None]] | None


@dataclass
class Mailbox:
    email: str
    token: str
    connection_id: str
    board_id: str


@dataclass
class Sent:
    """message id -> epoch seconds the delivery request was sent (the emulator notifies right after)."""

    at: dict[str, float] = field(default_factory=dict)
    mailbox_of: dict[str, Mailbox] = field(default_factory=dict)
    first: float = 0.0
    last: float = 0.0
    notifying: set[asyncio.Task[None]] = field(default_factory=set)


async def _deliver_one(
    control: httpx.AsyncClient, box: Mailbox, n: int, sent: Sent, on_sent: OnSent = None
) -> str:
    body: dict[str, Any] = {"from": CUSTOMER, "subject": f"Need help #{n}", "body": f"Body {n}"}
    started = time.time()
    r = await control.post(f"/_emulator/users/{box.email}/messages", json=body)
    r.raise_for_status()
    mid = str(r.json()["id"])
    sent.at[mid] = started
    sent.mailbox_of[mid] = box
    sent.first = min(sent.first or started, started)
    sent.last = max(sent.last, started)
    if on_sent is not None:
        task = asyncio.create_task(on_sent(mid, box))
        sent.notifying.add(task)
        task.add_done_callback(sent.notifying.discard)
    return mid


async def deliver_burst(
    stack: Stack, boxes: list[Mailbox], count: int, concurrency: int = 4, on_sent: OnSent = None
) -> Sent:
    """`count` matching emails round-robin over the mailboxes, as fast as the emulator accepts them."""
    sent = Sent()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def deliverer(control: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await _deliver_one(control, boxes[n % len(boxes)], n, sent, on_sent)

    async with stack.emulator_control() as control:
        await asyncio.gather(*(deliverer(control) for _ in range(concurrency)))
    await asyncio.gather(*list(sent.notifying))
    return sent


async def deliver_paced(
    stack: Stack, boxes: list[Mailbox], rate: float, seconds: float, on_sent: OnSent = None
) -> Sent:
    """Open loop: email n is sent at start + n/rate whatever happened to the earlier ones."""
    sent = Sent()
    total = int(rate * seconds)
    async with stack.emulator_control() as control:
        start = time.monotonic()

        async def at(n: int) -> None:
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            await _deliver_one(control, boxes[n % len(boxes)], 100_000 + n, sent, on_sent)

        await asyncio.gather(*(at(n) for n in range(total)))
    await asyncio.gather(*list(sent.notifying))
    return sent


@dataclass
class Subscription:
    subscription_id: str
    client_state: str
    mailbox: str


async def subscriptions(stack: Stack) -> list[Subscription]:
    async with stack.emulator_control() as control:
        r = await control.get("/_emulator/subscriptions")
        r.raise_for_status()
    return [
        Subscription(s["id"], s["client_state"], s["mailbox"])
        for s in r.json()
        if s.get("client_state") and s.get("mailbox")
    ]


def _notification(sub: Subscription, message_id: str, change: str) -> dict[str, Any]:
    return {
        "subscriptionId": sub.subscription_id,
        "clientState": sub.client_state,
        "changeType": change,
        "tenantId": str(uuid.UUID(int=0)),
        "resource": f"Users/{sub.mailbox}/Messages/{message_id}",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": message_id},
    }


SENDERS = 32
ACK_TIMEOUT = 10.0


@dataclass
class AckResult:
    latencies: list[float]
    statuses: dict[int, int]
    requests: int
    notifications: int
    seconds: float
    late_starts: int


async def post_notifications(
    api_url: str, subs: list[Subscription], rate: float, seconds: float, batch: int, ids_per_sub: int
) -> AckResult:
    """POSTs of `batch` notifications each at `rate` notifications/s on a fixed schedule, sent by
    SENDERS connections; each response time is counted from the request's scheduled start, so a request
    that waits for a free sender (the API being slow) counts its wait too."""
    per_sub_ids = {
        s.subscription_id: [f"bench-{uuid.uuid4().hex}=" for _ in range(ids_per_sub)] for s in subs
    }
    requests = int(rate * seconds / batch)
    interval = batch / rate
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    late = 0
    start = time.monotonic()
    next_n = 0

    async def sender() -> None:
        # Each sender has its own connection: httpx's shared pool costs CPU per waiting request.
        nonlocal late, next_n
        async with httpx.AsyncClient(base_url=api_url, timeout=ACK_TIMEOUT) as api:
            while next_n < requests:
                n = next_n
                next_n += 1
                scheduled = start + n * interval
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.005:
                    late += 1
                value = []
                for k in range(batch):
                    sub = subs[(n * batch + k) % len(subs)]
                    ids = per_sub_ids[sub.subscription_id]
                    change = "created" if n % 2 == 0 else "updated"
                    value.append(_notification(sub, ids[n % len(ids)], change))
                try:
                    r = await api.post("/webhooks/graph", json={"value": value})
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0  # no answer within the timeout: counted, and its wait counts as latency
                latencies.append(time.monotonic() - scheduled)
                statuses[code] = statuses.get(code, 0) + 1

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    elapsed = time.monotonic() - start
    return AckResult(latencies, statuses, requests, requests * batch, elapsed, late)


def _ack_child(
    api_url: str, subs: list[Subscription], rate: float, seconds: float, batch: int, out: Path
) -> None:
    result = asyncio.run(post_notifications(api_url, subs, rate, seconds, batch, 3))
    out.write_text(json.dumps(dataclasses.asdict(result)))


def post_notifications_elsewhere(
    api_url: str, subs: list[Subscription], rate: float, seconds: float, batch: int, out: Path
) -> AckResult:
    """The load generator in its own process: in the benchmark's process it would share the GIL with the
    worker (workflow activations are CPU-heavy) and measure its own starvation, not the API."""
    child = multiprocessing.get_context("spawn").Process(
        target=_ack_child, args=(api_url, subs, rate, seconds, batch, out)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"ack load generator failed (exit {child.exitcode})")
    data = json.loads(out.read_text())
    data["statuses"] = {int(k): v for k, v in data["statuses"].items()}
    return AckResult(**data)
