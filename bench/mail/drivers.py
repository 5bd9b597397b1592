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

from emulator.settings import EmulatorSettings
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


EMULATOR_TENANT = EmulatorSettings().tenant_id


def _notification(sub: Subscription, message_id: str, change: str) -> dict[str, Any]:
    return {
        "subscriptionId": sub.subscription_id,
        "clientState": sub.client_state,
        "changeType": change,
        # The mailboxes' tenant (the emulator's), as Graph writes it: the webhook drops any other.
        "tenantId": EMULATOR_TENANT,
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


class _RawHttp:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost the shared 2-core machine as
    little as possible (httpx spends milliseconds of CPU per request, which at 200/s starved the
    generator itself and measured its own queueing, not the API's)."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            return int(status_line.split()[1])
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            self.close()
            raise

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def post_notifications(
    api_url: str, subs: list[Subscription], rate: float, seconds: float, batch: int, ids_per_sub: int
) -> AckResult:
    """POSTs of `batch` notifications each at `rate` notifications/s on a fixed schedule, sent by
    SENDERS connections; each response time is counted from the request's scheduled start, so a request
    that waits for a free sender (the API being slow) counts its wait too."""
    per_sub_ids = {
        s.subscription_id: [f"bench-{uuid.uuid4().hex}=" for _ in range(ids_per_sub)] for s in subs
    }
    url = httpx.URL(api_url)
    requests = int(rate * seconds / batch)
    interval = batch / rate
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    late = 0
    start = time.monotonic()
    next_n = 0

    async def sender() -> None:
        nonlocal late, next_n
        http = _RawHttp(url.host, url.port or 80)
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
                async with asyncio.timeout(ACK_TIMEOUT):
                    code = await http.post("/webhooks/graph", json.dumps({"value": value}).encode())
            except (OSError, ValueError, IndexError, TimeoutError, asyncio.IncompleteReadError):
                http.close()
                code = 0  # no answer within the timeout: counted, and its wait counts as latency
            latencies.append(time.monotonic() - scheduled)
            statuses[code] = statuses.get(code, 0) + 1
        http.close()

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    elapsed = time.monotonic() - start
    return AckResult(latencies, statuses, requests, requests * batch, elapsed, late)


async def warm_up(api_url: str, subs: list[Subscription], rate: float) -> None:
    """One notification per subscription before measuring, at `rate`: each API process learns the
    subscriptions' owners and clientStates (a Vault read each) as it would in its first minutes of
    service; the measured window is the steady state after that."""
    url = httpx.URL(api_url)
    start = time.monotonic()
    for n, sub in enumerate(subs):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        body = json.dumps({"value": [_notification(sub, f"bench-warm-{uuid.uuid4().hex}=", "created")]})
        # A connection each: the API's processes share the port, and the kernel spreads connections.
        http = _RawHttp(url.host, url.port or 80)
        await http.post("/webhooks/graph", body.encode())
        http.close()


def _ack_child(
    api_url: str, subs: list[Subscription], rate: float, seconds: float, batch: int, out: Path
) -> None:
    async def both() -> AckResult:
        # Three passes: each of the API_WORKERS processes has most likely seen every subscription.
        for _ in range(3):
            await warm_up(api_url, subs, rate / 2)
        await asyncio.sleep(5)
        return await post_notifications(api_url, subs, rate, seconds, batch, 3)

    result = asyncio.run(both())
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
