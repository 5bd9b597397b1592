"""Drives the naive design: its connection workflows are started by the benchmark, and the benchmark
signals them once per notification Graph would send (created, then updated) right after each delivery.
The product's webhook stops routing these mailboxes first, so the product does not process them too."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import update
from temporalio.client import Client, WorkflowHandle

from bench.mail.api_process import restart_api
from bench.mail.drivers import Mailbox
from bench.mail.stack import NAIVE_QUEUE
from bench.naive.workflows import NaiveConnectionWorkflow
from db.connections import Connection
from db.engine import session_scope
from tests.e2e.conftest import Stack


def detach_product(stack: Stack) -> None:
    """Unknown subscriptions are dropped by the product's webhook (and counted): the emulator keeps
    notifying, the product ignores these mailboxes from now on. The webhook keeps subscription owners in
    memory once looked up, so its processes are restarted after the change (without that the product
    processed the naive phase's emails too: runs before 2026-12-06 counted whichever item came first)."""
    with session_scope(stack.engine) as session:
        session.execute(update(Connection).values(subscription_id=None))
    if not restart_api(stack.api_url):
        print("warning: the API runs in this process and keeps routing these mailboxes", flush=True)


async def start_naive(
    client: Client, boxes: list[Mailbox]
) -> dict[str, WorkflowHandle[NaiveConnectionWorkflow, None]]:
    handles: dict[str, WorkflowHandle[NaiveConnectionWorkflow, None]] = {}
    for box in boxes:
        handles[box.connection_id] = await client.start_workflow(
            NaiveConnectionWorkflow.run,
            box.connection_id,
            id=f"naive-connection/{box.connection_id}",
            task_queue=NAIVE_QUEUE,
        )
    return handles


def naive_notifier(
    handles: dict[str, WorkflowHandle[NaiveConnectionWorkflow, None]],
) -> Callable[[str, Mailbox], Coroutine[Any, Any, None]]:
    """One signal per notification Graph sends for a new email (created, then updated)."""

    async def notify(message_id: str, box: Mailbox) -> None:
        handle = handles[box.connection_id]
        await handle.signal(NaiveConnectionWorkflow.notified, message_id)
        await handle.signal(NaiveConnectionWorkflow.notified, message_id)

    return notify
