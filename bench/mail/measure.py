"""What the mail benchmark reads back: commit times of items, Temporal history sizes, Graph calls."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from db.boards import LedgerEntry
from db.engine import session_scope
from tests.e2e.conftest import Stack


def committed_at(stack: Stack, message_ids: list[str]) -> dict[str, float]:
    """message id -> epoch seconds its item was committed (the ledger row is written with the item)."""
    found: dict[str, float] = {}
    with session_scope(stack.engine) as session:
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            rows = session.execute(
                select(LedgerEntry.message_id, LedgerEntry.created_at).where(
                    LedgerEntry.message_id.in_(chunk)
                )
            ).all()
            for mid, created in rows:
                stamp: datetime = created
                found[str(mid)] = min(found.get(str(mid), float("inf")), stamp.timestamp())
    return found


async def wait_committed(
    stack: Stack, message_ids: list[str], timeout: float
) -> tuple[dict[str, float], bool]:
    deadline = time.monotonic() + timeout
    while True:
        found = committed_at(stack, message_ids)
        if len(found) >= len(message_ids) or time.monotonic() > deadline:
            return found, len(found) >= len(message_ids)
        await asyncio.sleep(0.5)


def of_type(workflow_type: str, task_queue: str | None = None) -> str:
    """A visibility query for one design's workflows: both releases name theirs alike, so the task queue
    (which children inherit) tells them apart."""
    query = f"WorkflowType = '{workflow_type}'"
    return f"{query} AND TaskQueue = '{task_queue}'" if task_queue else query


async def history_events(client: Client, query: str) -> tuple[int, int]:
    """(runs, history events) of every run the query finds; running ones described for a fresh count."""
    runs = events = 0
    async for execution in client.list_workflows(query):
        runs += 1
        if execution.status == WorkflowExecutionStatus.RUNNING:
            described = await client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
            events += described.history_length
        else:
            events += execution.history_length
    return runs, events


async def event_types(client: Client, query: str, since: float) -> Counter[str]:
    """History events by type, over every run the query finds, of the events recorded since `since`
    (epoch seconds): what a design's events per email are made of."""
    counts: Counter[str] = Counter()
    start = datetime.fromtimestamp(since, UTC)
    async for execution in client.list_workflows(query):
        if execution.close_time is not None and execution.close_time < start:
            continue
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_time.ToDatetime(tzinfo=UTC) >= start:
                counts[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()] += 1
    return counts


async def started_at(client: Client, query: str, message_ids: set[str]) -> dict[str, float]:
    """message id -> epoch seconds its message workflow started (ids end in the message id)."""
    found: dict[str, float] = {}
    async for execution in client.list_workflows(query):
        mid = execution.id.rsplit("/", 1)[-1]
        if mid in message_ids and execution.start_time is not None:
            found[mid] = min(found.get(mid, float("inf")), execution.start_time.timestamp())
    return found


async def graph_calls(control: httpx.AsyncClient, since: float) -> int:
    r = await control.get("/_emulator/requests", params={"since": str(since)})
    r.raise_for_status()
    return sum(1 for e in r.json() if str(e.get("path", "")).startswith("/v1.0/"))
