"""The backlog fault (issue 17) on the real stack: the worker is stopped while thousands of change
notifications arrive for one mailbox, then started again.

Two phases, each on a mailbox of its own:
- drain: the worker is away for `outage` seconds while `messages` emails arrive (Graph's ids, ~152
  characters; a created and an updated notification each). After it is back: every email made its item
  exactly once, no task of the connection workflow failed, no event of its runs passed the stated
  payload bound, and the outbox is empty. Measured: the drain rate.
- disconnect: the same with `disconnect_messages`; once the drain is under way the user disconnects.
  Measured: the seconds until the connection workflow has ended (the limit is 15), and that no message
  of the mailbox was read from Graph after that.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus

from bench.mail.drivers import Mailbox, deliver_burst
from bench.mail.phases import connect_mailboxes
from bench.mail.stack import product_worker
from db.boards import BoardItem, LedgerEntry
from db.engine import session_scope
from db.outbox import OutboxRow
from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, emulator_requests

# README, "Bounded under any backlog": no payload of a connection workflow's run passes this.
PAYLOAD_BOUND = 524_288
DISCONNECT_LIMIT_SECONDS = 15.0


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class PhaseReport:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def _count(stack: Stack, statement: Any) -> int:
    with session_scope(stack.engine) as session:
        return int(session.scalar(statement) or 0)


def items_made(stack: Stack, box: Mailbox) -> int:
    return _count(
        stack,
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.connection_id == box.connection_id),
    )


def items_on_board(stack: Stack, box: Mailbox) -> int:
    return _count(
        stack,
        select(func.count()).select_from(BoardItem).where(BoardItem.board_id == uuid.UUID(box.board_id)),
    )


def outbox_rows(stack: Stack) -> int:
    return _count(stack, select(func.count()).select_from(OutboxRow))


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], within: float, every: float = 0.5
) -> float | None:
    """Seconds until `check()` held, or None when it did not within `within` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(every)
    print(f"  gave up waiting for {what} after {within:.0f} s", flush=True)
    return None


# The server refuses a task's commands when new events (a child's close, an update) arrived while the
# worker ran it; the SDK runs the task again at once with them. Counted apart: it is how Temporal keeps
# a history consistent, not a task the workflow could not do. Any other cause is a failure.
REDONE_AT_ONCE = "WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND"


@dataclass
class RunsSummary:
    runs: int = 0
    task_failures: Counter[str] = field(default_factory=Counter)
    largest_event_bytes: int = 0
    events: int = 0

    @property
    def real_failures(self) -> int:
        return sum(n for cause, n in self.task_failures.items() if cause != REDONE_AT_ONCE)


async def connection_runs(client: Client, connection_id: str) -> RunsSummary:
    """Every run of the connection's workflow: failed workflow tasks and the largest event (an input, an
    update's batch, a continue-as-new's carried state)."""
    summary = RunsSummary()
    async for execution in client.list_workflows(f"WorkflowId = 'connection/{connection_id}'"):
        summary.runs += 1
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            summary.events += 1
            summary.largest_event_bytes = max(summary.largest_event_bytes, event.ByteSize())
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = event.workflow_task_failed_event_attributes.cause
                summary.task_failures[WorkflowTaskFailedCause.Name(cause)] += 1
    return summary


async def _backlog(stack: Stack, box: Mailbox, count: int, outage: float) -> tuple[list[str], dict[str, Any]]:
    """Stops the worker, delivers `count` emails, keeps it away until `outage` seconds have passed, starts
    it again. Returns the message ids and the outage's figures."""
    worker = product_worker(stack)
    worker.stop()
    stopped = time.monotonic()
    print(f"  worker stopped; delivering {count} emails", flush=True)
    sent = await deliver_burst(stack, [box], count, concurrency=4)
    delivered = time.monotonic() - stopped
    ids = list(sent.at)
    # The webhook stores what Graph sends; nothing can be handed over without a worker.
    await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))
    figures = {
        "emails": len(ids),
        "id_length": max(len(i) for i in ids),
        "delivery_seconds": round(delivered, 1),
        "outage_seconds": round(time.monotonic() - stopped, 1),
        "outbox_rows_at_restart": outbox_rows(stack),
        "made_during_outage": items_made(stack, box),
    }
    print(f"  worker back after {figures['outage_seconds']} s: {figures}", flush=True)
    await asyncio.to_thread(worker.start)
    return ids, figures


async def drain(stack: Stack, messages: int, outage: float, within: float) -> PhaseReport:
    report = PhaseReport("drain")
    [box] = await connect_mailboxes(stack, 1)
    ids, report.figures = await _backlog(stack, box, messages, outage)
    resumed = time.monotonic()
    last_made = 0

    async def all_made() -> bool:
        nonlocal last_made
        made = items_made(stack, box)
        if made // 2000 != last_made // 2000:
            print(
                f"  {made} of {len(ids)} made, {time.monotonic() - resumed:.0f} s after the restart",
                flush=True,
            )
        last_made = made
        return made >= len(ids)

    took = await wait_until("every item", all_made, within, every=1.0)
    made = items_made(stack, box)
    report.figures["drain_seconds"] = round(took, 1) if took is not None else None
    report.figures["drain_emails_per_s"] = round(len(ids) / took, 1) if took else None
    # Whatever was still on its way settles (a duplicate would show now, not at the last item).
    await asyncio.sleep(5)
    on_board = items_on_board(stack, box)
    runs = await connection_runs(stack.env.client, box.connection_id)
    report.figures.update(
        made=made,
        items_on_board=on_board,
        connection_runs=runs.runs,
        connection_events=runs.events,
        task_failures_by_cause=dict(runs.task_failures),
        largest_event_bytes=runs.largest_event_bytes,
        outbox_rows_after=outbox_rows(stack),
    )
    report.check("every email made its item", made == len(ids), f"{made} of {len(ids)}")
    # The ledger holds one row per recipe and message, so a second item shows only on the board.
    report.check("no email made two items", on_board == made, f"{on_board} items for {made} emails made")
    report.check(
        "no workflow task failed",
        runs.real_failures == 0,
        f"{runs.real_failures} failed; {runs.task_failures[REDONE_AT_ONCE]} redone at once with new events",
    )
    report.check(
        "every event within the payload bound",
        runs.largest_event_bytes <= PAYLOAD_BOUND,
        f"largest {runs.largest_event_bytes:,} bytes (bound {PAYLOAD_BOUND:,})",
    )
    report.check(
        "the outbox drained",
        report.figures["outbox_rows_after"] == 0,
        f"{report.figures['outbox_rows_after']} rows left",
    )
    return report


async def _ended(client: Client, connection_id: str) -> bool:
    described = await client.get_workflow_handle(f"connection/{connection_id}").describe()
    return described.status != WorkflowExecutionStatus.RUNNING


def _message_reads(requests: list[dict[str, Any]]) -> list[float]:
    """When the service read a message of the mailbox (its metadata, body or attachments)."""
    return [float(r["time"]) for r in requests if r.get("message_id")]


async def disconnect_mid_drain(stack: Stack, messages: int, outage: float, after_made: int) -> PhaseReport:
    report = PhaseReport("disconnect")
    [box] = await connect_mailboxes(stack, 1)
    ids, report.figures = await _backlog(stack, box, messages, outage)

    async def under_way() -> bool:
        return items_made(stack, box) >= after_made

    await wait_until(f"{after_made} items", under_way, within=300)
    made_at_disconnect = items_made(stack, box)
    issued_wall = time.time()
    answer = await api_call(stack, box.token, "DELETE", f"/api/connections/{box.connection_id}")
    report.check("the disconnect was accepted", answer.status_code == 202, f"HTTP {answer.status_code}")

    async def ended() -> bool:
        return await _ended(stack.env.client, box.connection_id)

    took = await wait_until("the connection workflow to end", ended, within=120, every=0.2)
    ended_wall = time.time()
    # Reads already under way when the workflow ended finish within an activity's timeout; wait, then
    # look for any read after the end.
    await asyncio.sleep(10)
    reads = _message_reads(await emulator_requests(stack, box.email))
    after = [t for t in reads if t > ended_wall + 1.0]
    made_after = items_made(stack, box)
    report.figures.update(
        made_at_disconnect=made_at_disconnect,
        waiting_at_disconnect=len(ids) - made_at_disconnect,
        disconnect_seconds=round(took, 2) if took is not None else None,
        made_in_all=made_after,
        reads_after_end=len(after),
        last_read_after_disconnect_s=round(max(reads) - issued_wall, 2) if reads else None,
    )
    report.check(
        f"disconnected within {DISCONNECT_LIMIT_SECONDS:.0f} s",
        took is not None and took <= DISCONNECT_LIMIT_SECONDS,
        f"{took:.2f} s with {len(ids) - made_at_disconnect} emails waiting" if took else "never",
    )
    report.check("no message read after the end", not after, f"{len(after)} reads after the workflow ended")
    report.figures["made_after_disconnect"] = made_after - made_at_disconnect
    return report
