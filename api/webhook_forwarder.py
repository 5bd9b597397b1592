"""Hands the webhook outbox to Temporal: a background task in every API process.

The webhook only stores what Graph sent (webhooks/outbox.py) and answers 202, because a signal RPC can
take seconds when Temporal is busy and Graph wants its answer within 3 s. This task claims stored rows
with a lease, hands per connection its message ids to the workflow's `take_notified` update (at most
1,000 per call) and sends one `lifecycle` signal per distinct event (webhooks/coalesce.py), and deletes
what went through. A batch the workflow refuses because it already holds its maximum of waiting ids
stays in the outbox for a later round (backpressure: the backlog waits here, outside the workflow's
history, and leaves only once a workflow has durably taken it). It wakes when this
process's webhook stored something and polls every second for the rest (other processes' rows, rows
left by a crashed process once their lease ran out, rows whose retry is due).

Delivery is at least once: a row whose lease runs out mid-send may be signalled again by another
forwarder. The workflow drops message ids and lifecycle events it already has, as it always did for
Graph's own duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.background import pause
from payloads.messages import NotifiedMessages
from telemetry.metrics import OUTBOX_ROWS
from webhooks.coalesce import ConnectionPlan, Send, plan
from webhooks.outbox import ClaimedEntry, Outbox
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

log = logging.getLogger("api.webhook_forwarder")


@dataclass(frozen=True)
class ForwarderTiming:
    # Long enough for a whole round (bounded by round_deadline) plus settling it in the database.
    lease: timedelta = timedelta(seconds=30)
    poll_seconds: float = 1.0
    gather_seconds: float = 0.05
    # Gather only while traffic is dense: after a round that claimed at least gather_from_rows rows, or
    # when the webhook woke us within dense_within_seconds of the last round's end. A notification of
    # sparse traffic (a row a round, seconds apart) goes on at once instead of waiting gather_seconds
    # for company that will not come; a dense stream keeps its large rounds.
    gather_from_rows: int = 2
    dense_within_seconds: float = 0.05
    batch_rows: int = 500
    # Connections signalled at once; each connection's own signals go one after another.
    concurrency: int = 32
    signal_timeout: timedelta = timedelta(seconds=10)
    # Rows not handed over wait this long before anyone tries them again, doubling per attempt.
    retry_first: timedelta = timedelta(seconds=1)
    retry_max: timedelta = timedelta(seconds=30)
    stop_grace_seconds: float = 5.0

    @property
    def round_deadline(self) -> float:
        # Sends still running at half the lease are abandoned (rows retried), so no round outlives it.
        return self.lease.total_seconds() / 2

    def retry_delay(self, attempts: int) -> timedelta:
        # The exponent is capped: attempts keep counting through a long outage, timedelta would overflow.
        return min(self.retry_first * (1 << min(max(attempts - 1, 0), 20)), self.retry_max)


@dataclass
class RoundResult:
    claimed: int = 0
    forwarded: int = 0  # rows signalled and deleted
    dropped: int = 0  # rows of connections whose workflow has ended, deleted
    kept: int = 0  # rows kept for a later try


@dataclass
class _Progress:
    plan: ConnectionPlan
    forwarded: list[int] = field(default_factory=list)
    gone: bool = False
    error: str | None = None


def default_owner() -> str:
    """Names this process in claimed_by (host, pid, and a nonce: a restarted process never reuses it)."""
    return f"{socket.gethostname()[:60]}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def _connection_ended(err: RPCError) -> bool:
    """NOT_FOUND for the workflow. A missing namespace is NOT_FOUND too, but is a misconfiguration:
    dropping every notification for it would lose them all, so it counts as a failure to retry."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return False
    details = err.grpc_status.details if err.grpc_status is not None else []
    return not any(d.type_url.endswith("NamespaceNotFoundFailure") for d in details)


class WebhookForwarder:
    def __init__(
        self,
        outbox: Outbox,
        temporal: Client,
        timing: ForwarderTiming | None = None,
        owner: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._temporal = temporal
        self.timing = timing or ForwarderTiming()
        self.owner = owner or default_owner()
        # Rows by what became of them, since start (for operators and tests).
        self.totals: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ----- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-forwarder")

    async def stop(self) -> None:
        """Lets the current round finish (up to stop_grace_seconds), then cancels it. Rows of a
        cancelled round stay leased until the lease runs out, then any forwarder takes them."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, self.timing.stop_grace_seconds)
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Called by the webhook after it stored rows: forward them now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        failed_rounds = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result = await self.forward_once()
            except Exception as err:
                # The database is unavailable (locked, down, not migrated): nothing is lost, try later.
                log.warning("webhook outbox unavailable (%s); trying again later", type(err).__name__)
                result = None
            if result is None or (result.kept and not (result.forwarded or result.dropped)):
                # Nothing went through: wait, whatever the webhook says, rather than hammer a Temporal
                # or a database that is down (new rows keep until then; they are stored).
                failed_rounds += 1
                await pause(self.timing.retry_delay(failed_rounds).total_seconds(), self._stopping)
                continue
            failed_rounds = 0
            if result.claimed < self.timing.batch_rows:
                round_ended = time.monotonic()
                await pause(self.timing.poll_seconds, self._wake)
                dense = (
                    result.claimed >= self.timing.gather_from_rows
                    or time.monotonic() - round_ended < self.timing.dense_within_seconds
                )
                if dense and self._wake.is_set() and not self._stopping.is_set():
                    # Woken by the webhook while traffic is dense: let the requests arriving meanwhile
                    # join the round. Fewer, larger rounds leave the database's write lock to the
                    # webhook's inserts.
                    await pause(self.timing.gather_seconds, self._stopping)

    # ----- one round ------------------------------------------------------------------------------

    async def forward_once(self) -> RoundResult:
        """Claims up to batch_rows free rows, signals their workflows, deletes or reschedules them."""
        entries = await self._outbox.claim(self.owner, lease=self.timing.lease, limit=self.timing.batch_rows)
        if not entries:
            return RoundResult()
        progress = [_Progress(p) for p in plan(entries)]
        limit = asyncio.Semaphore(self.timing.concurrency)
        tasks = [asyncio.create_task(self._deliver(p, limit)) for p in progress]
        try:
            _done, pending = await asyncio.wait(tasks, timeout=self.timing.round_deadline)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for p, task in zip(progress, tasks, strict=True):
            if task in pending and p.error is None and not p.gone:
                p.error = "deadline"
        return await self._settle(entries, progress)

    async def _deliver(self, progress: _Progress, limit: asyncio.Semaphore) -> None:
        """Hands a connection's batches over in order and records how far it got; never raises. A
        batch of message ids the workflow refuses (it holds its maximum) stays in the outbox with the
        ones after it, while its lifecycle events still go: they never wait behind a backlog."""
        async with limit:
            handle = self._temporal.get_workflow_handle(connection_workflow_id(progress.plan.connection_id))
            backlogged = False
            for send in progress.plan.sends:
                if backlogged and send.message_ids is not None:
                    continue
                try:
                    await self._signal(handle, send)
                except WorkflowUpdateFailedError:
                    # Refused by the update's validator: nothing was written to the history.
                    backlogged = True
                    progress.error = "backlogged"
                    continue
                except RPCError as err:
                    if _connection_ended(err):
                        # Disconnected or gone: nothing of this mailbox is ours to handle any more.
                        progress.gone = True
                    else:
                        progress.error = f"RPCError {err.status.name}"
                    return
                except Exception as err:  # unreachable, client not connected, ...: retried later
                    progress.error = type(err).__name__
                    return
                progress.forwarded.extend(send.row_ids)

    async def _signal(self, handle: WorkflowHandle[Any, Any], send: Send) -> None:
        timeout = self.timing.signal_timeout
        if send.message_ids is not None:
            # An update, not a signal: accepted means durably in the workflow's history (the rows can
            # go); refused means the workflow holds its maximum (the rows stay). With no worker
            # running, the call times out and the rows stay too.
            batch = NotifiedMessages(message_ids=send.message_ids)
            await handle.execute_update(ConnectionWorkflow.take_notified, batch, rpc_timeout=timeout)
        elif send.lifecycle_event is not None:
            await handle.signal(ConnectionWorkflow.lifecycle, send.lifecycle_event, rpc_timeout=timeout)

    async def _settle(self, entries: list[ClaimedEntry], progress: list[_Progress]) -> RoundResult:
        by_id = {e.id: e for e in entries}
        forwarded = [row for p in progress if not p.gone for row in p.forwarded]
        dropped = [row for p in progress if p.gone for row in p.plan.row_ids]
        done = set(forwarded) | set(dropped)
        kept = [by_id[row] for p in progress for row in p.plan.row_ids if row not in done]
        await self._outbox.remove(self.owner, [*forwarded, *dropped])
        await self._outbox.retry_later(self.owner, kept, self.timing.retry_delay)
        result = RoundResult(len(entries), len(forwarded), len(dropped), len(kept))
        self.totals.update(forwarded=result.forwarded, dropped=result.dropped, kept=result.kept)
        for name, rows in (
            ("forwarded", result.forwarded),
            ("dropped", result.dropped),
            ("kept", result.kept),
        ):
            if rows:
                OUTBOX_ROWS.labels(result=name).inc(rows)
        if dropped:
            gone = sum(1 for p in progress if p.gone)
            log.info("dropped %d outbox row(s) of %d ended connection(s)", len(dropped), gone)
        if kept:
            errors = Counter(p.error for p in progress if p.error)
            log.warning(
                "could not hand %d outbox row(s) of %d connection(s) to Temporal (%s); kept for a retry",
                len(kept),
                sum(errors.values()),
                ", ".join(f"{e} x{n}" for e, n in errors.most_common(3)),
            )
        return result
