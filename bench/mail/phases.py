"""One measured phase of the mail benchmark: deliver, wait for every item, read history and Graph calls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from bench.mail import cpu, pool_waits
from bench.mail.drivers import Mailbox, OnSent, deliver_burst, deliver_paced
from bench.mail.measure import (
    event_types,
    graph_calls,
    history_events,
    of_type,
    started_at,
    wait_committed,
)
from bench.mail.stats import percentile
from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, connect, new_mailbox, wait_status
from tests.recipes.support import SUPPORT_BOARD as BOARD
from tests.recipes.support import recipe_body


async def connect_mailboxes(
    stack: Stack, count: int, concurrency: int = 6, with_recipe: bool = True
) -> list[Mailbox]:
    """Real OAuth connections through the API (like a browser), each with the issue's board and recipe
    (or, `with_recipe=False`, connections only: the webhook benchmark's extra mailboxes)."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Mailbox:
        async with gate:
            email = await new_mailbox(stack)
            browser, token = await stack.signed_in_user(f"owner-{email}")
            async with contextlib.aclosing(browser):
                connection_id = await connect(stack, browser, email)
            await wait_status(stack, token, connection_id, "active")
            if not with_recipe:
                return Mailbox(email, token, connection_id, "")
            board = await api_call(stack, token, "POST", "/api/boards", json=BOARD)
            board.raise_for_status()
            board_id = board.json()["id"]
            recipe = await api_call(
                stack, token, "POST", "/api/recipes", json=recipe_body(connection_id, board_id)
            )
            recipe.raise_for_status()
            return Mailbox(email, token, connection_id, board_id)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def running(client: Client, query: str) -> int:
    counted = await client.count_workflows(f"{query} AND ExecutionStatus = 'Running'")
    return counted.count


async def settle(client: Client, query: str, timeout: float = 120.0) -> None:
    """Waits until no workflow the query finds is running (visibility lags a little: ask twice)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        quiet = quiet + 1 if await running(client, query) == 0 else 0
        await asyncio.sleep(0.5)


@dataclass
class Design:
    name: str
    message_type: str
    connection_type: str
    # The design's task queue: the current release and the previous one name their workflows alike.
    task_queue: str | None = None
    on_sent: OnSent = None

    @property
    def messages(self) -> str:
        return of_type(self.message_type, self.task_queue)

    @property
    def connections(self) -> str:
        return of_type(self.connection_type, self.task_queue)


async def measure(
    stack: Stack,
    boxes: list[Mailbox],
    design: Design,
    *,
    burst: int | None = None,
    rate: float = 0.0,
    seconds: float = 0.0,
    timeout: float = 300.0,
) -> dict[str, Any]:
    client = stack.env.client
    await settle(client, design.messages)
    before_msg = await history_events(client, design.messages)
    before_conn = await history_events(client, design.connections)
    since = time.time()
    cpu_before = cpu.snapshot()
    pool_before = await pool_waits.snapshot(design.task_queue)
    if burst is not None:
        sent = await deliver_burst(stack, boxes, burst, on_sent=design.on_sent)
    else:
        sent = await deliver_paced(stack, boxes, rate, seconds, on_sent=design.on_sent)
    ids = list(sent.at)
    committed, complete = await wait_committed(stack, ids, timeout)
    cpu_after = cpu.snapshot()
    pool_after = await pool_waits.snapshot(design.task_queue)
    await settle(client, design.messages)
    after_msg = await history_events(client, design.messages)
    after_conn = await history_events(client, design.connections)
    async with stack.emulator_control() as control:
        calls = await graph_calls(control, since)
    latencies = [committed[m] - sent.at[m] for m in ids if m in committed]
    # Where the time goes: until the message workflow started (notification, webhook, connection
    # workflow), and from then to the item's commit (the message workflow and its activity).
    started = await started_at(client, design.messages, set(ids))
    to_start = [started[m] - sent.at[m] for m in ids if m in started]
    to_commit = [committed[m] - started[m] for m in ids if m in started and m in committed]
    emails = len(ids)
    by_type = {
        "message": await event_types(client, design.messages, since),
        "connection": await event_types(client, design.connections, since),
    }
    message_events = after_msg[1] - before_msg[1]
    connection_events = after_conn[1] - before_conn[1]
    span = (max(committed.values()) - sent.first) if committed else None
    return {
        "design": design.name,
        "mode": "burst" if burst is not None else f"paced {rate:g}/s",
        "emails": emails,
        "items_committed": len(committed),
        "complete": complete,
        "delivery_seconds": sent.last - sent.first,
        "first_send_to_last_commit_seconds": span,
        "emails_per_second": (len(committed) / span) if span else None,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "latency_max_s": max(latencies) if latencies else None,
        "to_workflow_start_p50_s": percentile(to_start, 50),
        "to_workflow_start_p99_s": percentile(to_start, 99),
        "workflow_start_to_commit_p50_s": percentile(to_commit, 50),
        "workflow_start_to_commit_p99_s": percentile(to_commit, 99),
        "message_runs": after_msg[0] - before_msg[0],
        "message_events": message_events,
        "connection_events": connection_events,
        "events_per_email": (message_events + connection_events) / emails,
        # The message workflows' histories (children) and the connection workflows' growth (parent).
        "message_events_per_email": message_events / emails,
        "connection_events_per_email": connection_events / emails,
        # Of what: events recorded since the first delivery, by type, per email (the phase's own).
        "event_types_per_email": {
            kind: {t: round(n / emails, 2) for t, n in counts.most_common()}
            for kind, counts in by_type.items()
        },
        "graph_calls": calls,
        "graph_calls_per_email": calls / emails,
        # From the first delivery to the last item: CPU milliseconds per email, per part of the stack.
        "cpu_ms_per_email": cpu.per_email_ms(cpu_before, cpu_after, emails),
        # The worker's blocking calls waiting for a thread of its pool (the product's worker only).
        **pool_waits.figures(pool_before, pool_after),
    }
