"""Hands board events to the connection workflows of the recipes that watch them: a background task in
every API process, beside the webhook forwarder.

The board store writes a BoardEvent row in the same transaction as the change (boards/events.py). This
task reads the pending ones, finds the enabled outgoing recipes watching the board whose trigger matches
(item_created; column_changed for that column and, with `to`, that new value), sends each recipe's
connection workflow a `board_event` signal, and marks the event forwarded only once every signal was
accepted. Delivery is at least once (a failure, a crash, or two API processes reading the same rows
repeat a signal): the child's id `send/<connection>/<event>/<recipe>` makes a repeat harmless. A
connection whose workflow has ended (disconnected) gets a failed send in its activity log instead.

It wakes right after a change (`wake`, called by the item routes) and polls every second otherwise.
Database calls run in threads: the API's event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import activitylog
from activities.send_triggers import trigger_matches
from api.background import pause
from boards.events import mark_forwarded, pending_events
from db.engine import session_scope
from payloads.sends import BoardEventSignal
from recipes.model import Recipe
from recipes.store import outgoing_recipe, outgoing_recipes_for_board
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

log = logging.getLogger("api.board_event_forwarder")

ENDED = "the connection's workflow has ended (disconnected); nothing was sent"


@dataclass(frozen=True)
class ForwarderTiming:
    poll_seconds: float = 1.0
    batch: int = 100
    signal_timeout: timedelta = timedelta(seconds=10)
    # After a round where nothing went through (Temporal or the database down): wait this long.
    retry_seconds: float = 5.0
    stop_grace_seconds: float = 5.0


@dataclass(frozen=True)
class Target:
    connection_id: str
    recipe_id: str
    recipe_name: str


@dataclass
class Plan:
    event_id: uuid.UUID
    targets: list[Target] = field(default_factory=list)


@dataclass
class RoundResult:
    events: int = 0
    forwarded: int = 0  # events marked forwarded
    signals: int = 0
    kept: int = 0  # events left pending for a later round


def _connection_ended(err: RPCError) -> bool:
    """NOT_FOUND for the workflow (a missing namespace is NOT_FOUND too, but must be retried)."""
    if err.status != RPCStatusCode.NOT_FOUND:
        return False
    details = err.grpc_status.details if err.grpc_status is not None else []
    return not any(d.type_url.endswith("NamespaceNotFoundFailure") for d in details)


def plan_round(engine: Engine, limit: int) -> list[Plan]:
    """The pending events, oldest first, each with the recipes to signal (sync: run in a thread)."""
    with session_scope(engine) as session:
        events = pending_events(session, limit)
        recipes: dict[uuid.UUID, list[Recipe]] = {}
        plans = []
        for event in events:
            if event.board_id is None:
                # A monday.com event came through one recipe's own webhook: that recipe alone may act on
                # it (another recipe watching the board gets the same change through its webhook).
                watching = outgoing_recipe(session, event.recipe_id) if event.recipe_id else []
            else:
                if event.board_id not in recipes:
                    recipes[event.board_id] = outgoing_recipes_for_board(session, event.board_id)
                watching = recipes[event.board_id]
            targets = [Target(r.connection_id, r.id, r.name) for r in watching if trigger_matches(r, event)]
            plans.append(Plan(event.id, targets))
        return plans


def settle(engine: Engine, event_ids: list[uuid.UUID]) -> None:
    with session_scope(engine) as session:
        mark_forwarded(session, event_ids)


def record_ended(engine: Engine, event_id: uuid.UUID, target: Target) -> None:
    details = [
        {"recipe_id": target.recipe_id, "recipe": target.recipe_name, "result": "failed", "reason": ENDED}
    ]
    try:
        activitylog.record_outcome(
            engine,
            target.connection_id,
            f"send/{event_id}/{target.recipe_id}",
            "failed",
            ENDED,
            0,
            direction="outgoing",
            details=details,
        )
    except Exception as err:  # the connection's row is gone too: there is no log to write to
        log.info("no activity log for ended connection %s (%s)", target.connection_id, type(err).__name__)


class BoardEventForwarder:
    def __init__(self, engine: Engine, temporal: Client, timing: ForwarderTiming | None = None) -> None:
        self._engine = engine
        self._temporal = temporal
        self.timing = timing or ForwarderTiming()
        # Signals by what became of them, since start (for operators and tests).
        self.totals: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="board-event-forwarder")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, self.timing.stop_grace_seconds)
            self._task = None

    def wake(self) -> None:
        """Called after a change that may have written board events: forward them now. Safe from any
        thread (the item routes are sync and run in the threadpool)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                result: RoundResult | None = await self.forward_once()
            except Exception as err:
                log.warning("board events unavailable (%s); trying again later", type(err).__name__)
                result = None
            if result is None or (result.kept and not result.forwarded):
                await pause(self.timing.retry_seconds, self._stopping)
            elif result.events < self.timing.batch:
                await pause(self.timing.poll_seconds, self._wake)

    async def forward_once(self) -> RoundResult:
        plans = await asyncio.to_thread(plan_round, self._engine, self.timing.batch)
        result = RoundResult(events=len(plans))
        done: list[uuid.UUID] = []
        for plan in plans:
            if await self._deliver(plan, result):
                done.append(plan.event_id)
            else:
                result.kept += 1
        if done:
            await asyncio.to_thread(settle, self._engine, done)
        result.forwarded = len(done)
        if result.kept:
            log.warning("could not hand %d board event(s) to Temporal; kept for a retry", result.kept)
        return result

    async def _deliver(self, plan: Plan, result: RoundResult) -> bool:
        """Signals every target of the event; True when each was accepted or its connection has ended."""
        for target in plan.targets:
            handle = self._temporal.get_workflow_handle(connection_workflow_id(target.connection_id))
            signal = BoardEventSignal(event_id=str(plan.event_id), recipe_id=target.recipe_id)
            try:
                await handle.signal(
                    ConnectionWorkflow.board_event, signal, rpc_timeout=self.timing.signal_timeout
                )
            except RPCError as err:
                if not _connection_ended(err):
                    self.totals["failed"] += 1
                    return False
                self.totals["ended"] += 1
                await asyncio.to_thread(record_ended, self._engine, plan.event_id, target)
                continue
            except Exception:  # unreachable, not connected...: the event waits for a later round
                self.totals["failed"] += 1
                return False
            self.totals["signalled"] += 1
            result.signals += 1
        return True


def wake_board_events(app: FastAPI) -> None:
    """For the item routes: forward the board events a change just wrote, now rather than at the next
    poll. Does nothing where the lifespan did not start a forwarder (tests without it)."""
    forwarder = getattr(app.state, "board_event_forwarder", None)
    if isinstance(forwarder, BoardEventForwarder):
        forwarder.wake()
