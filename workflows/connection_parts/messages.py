"""The connection's mail: notified ids (and those catch-up finds) become one MessageWorkflow each.

Ids wait in the state until started; the latest started ones are remembered for a while, so Graph's
created+updated pairs and repeats are dropped here instead of costing a start each (the child's id would
refuse them anyway: REJECT_DUPLICATE). A run hands over to the next (continue-as-new) after
`children_per_run` messages, which keeps its history and its carried state small.

Bounded under any backlog (runs with the BACKLOG patch): the waiting ids and the recent window are
each capped in bytes (ConnectionTiming.pending_bytes_max, recent_bytes_max), so no run's state, and no
continue-as-new input, grows with a backlog. What does not fit waits outside the history: the webhook's
outbox keeps notifications until the `take_notified` update is accepted, and that update's validator
refuses a batch that does not fit (nothing refused is written to the history); a catch-up pauses while
the waiting ids fill half the cap and resumes as they drain. Each turn of the connection's loop starts
at most one batch, so a disconnect, a lifecycle event, a token refresh or a renewal is acted on between
batches, never after the whole backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import (
    Priority,
    RetryPolicy,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.catch_up import CatchUpActivities
    from activities.message_starts import start_message_workflows
    from payloads.connection import ConnectionStatus
    from payloads.messages import CatchUpRequest, MessageInput, MessageStarts, id_bytes
    from workflows.message import MessageWorkflow, message_workflow_id
    from workflows.search_attributes import CONNECTION_ID

from workflows.connection_parts.calls import STEP_DEADLINE, Attempts, call
from workflows.connection_parts.run_state import RunState
from workflows.connection_parts.status import Status

# Below the default (3) that the connection workflow and its own activities run at.
MESSAGE_PRIORITY = Priority(priority_key=4)


class Messages:
    def __init__(self, run: RunState, status: Status, attempts: Attempts) -> None:
        self._run = run
        self._status = status
        self._attempts = attempts
        state = run.state
        self._recent = set(state.recent_messages)
        self._pending = set(state.pending_messages)
        self._pending_bytes = sum(id_bytes(m) for m in state.pending_messages)
        self._recent_bytes = sum(id_bytes(m) for m in state.recent_messages)
        # Message workflows started by this run (continue-as-new after `children_per_run`).
        self.started_this_run = 0
        # Bytes of ids waiting in another part (messages to redo: connection_parts/redo.py), which
        # count against the same cap.
        self.held_elsewhere = 0
        # Message workflows this run started that have not closed yet (in-flight patch).
        self.in_flight = 0
        self._watching: set[asyncio.Task[None]] = set()

    def new_ids(self, message_ids: list[str]) -> list[str]:
        """The ids neither waiting nor started lately, each once, in order."""
        fresh = dict.fromkeys(m for m in message_ids if m not in self._recent and m not in self._pending)
        return list(fresh)

    def fits(self, message_ids: list[str]) -> bool:
        """Whether these ids can wait here without passing the cap (the update's validator asks)."""
        room = self.room()
        return sum(id_bytes(m) for m in self.new_ids(message_ids)) <= room

    def room(self) -> int:
        """Bytes still free under the waiting-ids cap."""
        return self._run.input.timing.pending_bytes_max - self._pending_bytes - self.held_elsewhere

    def enqueue(self, message_ids: list[str]) -> None:
        bounded = self._run.patches.backlog
        room = self.room()
        for message_id in self.new_ids(message_ids):
            size = id_bytes(message_id)
            if bounded and size > room:
                # Only an old-style signal (or a forwarder of an older release) brings more than fits:
                # the message is not lost, the catch-up that this requests finds what has no outcome.
                self._run.state.ids_overflowed += 1
                self._run.state.catch_up_requested = True
                continue
            room -= size
            self._pending.add(message_id)
            self._pending_bytes += size
            self._run.state.pending_messages.append(message_id)

    def has_work(self) -> bool:
        """Whether a turn of the loop can do something now. It must be false whenever `process` would
        do nothing: the loop's wait would return at once, and the turn would spin without yielding
        (ids waiting while the run has its maximum running, and a catch-up asked for with no room)."""
        state = self._run.state
        can_start = bool(state.pending_messages) and self.free_slots() > 0
        can_catch_up = state.catch_up_requested and (
            not self._run.patches.in_flight or self._room_for_catch_up()
        )
        return can_start or can_catch_up

    def free_slots(self) -> int:
        """How many message workflows may start now: a batch, or fewer while the run has its maximum
        running (in-flight patch; a child's close wakes the loop)."""
        timing = self._run.input.timing
        if not self._run.patches.in_flight:
            return timing.child_batch
        return max(0, min(timing.child_batch, timing.children_in_flight - self.in_flight))

    def priority(self) -> Priority:
        """Message workflows (and so their activities) below the connection's own work on the shared
        task queue (in-flight patch): a disconnect, a refresh or a renewal never waits behind the
        backlog's tasks. Temporal serves a lower priority key first; the default is 3."""
        return MESSAGE_PRIORITY if self._run.patches.in_flight else Priority.default

    def track(self, child: workflow.ChildWorkflowHandle[Any, Any]) -> None:
        """Counts a started child as running until it closes, however it closes."""
        if not self._run.patches.in_flight:
            return
        self.in_flight += 1

        async def closed() -> None:
            # Failed, timed out or terminated: closed all the same.
            with contextlib.suppress(Exception):
                await child
            self.in_flight -= 1

        task = asyncio.create_task(closed())
        self._watching.add(task)
        task.add_done_callback(self._watching.discard)

    def run_is_full(self) -> bool:
        return self.started_this_run >= self._run.input.timing.children_per_run

    async def process(self) -> None:
        """Catch-up when due, then starts for what waits while the connection stays active."""
        run = self._run
        state = run.state
        if state.next_reconcile_at is None:
            state.next_reconcile_at = workflow.now() + run.input.timing.reconcile_interval
        catch_up_due = state.catch_up_requested or state.next_reconcile_at <= workflow.now()
        if self._still_active() and catch_up_due and self._room_for_catch_up():
            await self._catch_up()
        while state.pending_messages and self._still_active():
            if self.run_is_full():
                return  # the loop continues as new first; the rest is carried in the state
            batch = state.pending_messages[: self.free_slots()]
            if not batch:
                return  # the run has its maximum running; a child's close wakes the loop
            if run.patches.children:
                started = await asyncio.gather(*(self._start_child(m) for m in batch))
                self.started_this_run += len(batch)
                state.messages_started += sum(started)
                state.duplicates_dropped += len(batch) - sum(started)
                self._status.show()
            elif run.patches.starts_by_activity:
                if not await self._start_by_activity(batch):
                    return  # Temporal did not take them: kept pending, tried again on the next wake-up
                self.started_this_run += len(batch)
            else:
                # Started concurrently: one workflow task for the whole batch instead of one per child.
                await asyncio.gather(*(self._start_first_release_child(m) for m in batch))
            del state.pending_messages[: len(batch)]
            self._pending.difference_update(batch)
            self._pending_bytes -= sum(id_bytes(m) for m in batch)
            self._remember(batch)
            if run.patches.backlog:
                return  # one batch per turn: the loop acts on disconnects and due work in between

    def _room_for_catch_up(self) -> bool:
        """A catch-up only while the waiting ids fill less than half the cap (bounded runs)."""
        if not self._run.patches.backlog:
            return True
        return self._pending_bytes * 2 < self._run.input.timing.pending_bytes_max

    def _still_active(self) -> bool:
        return self._run.state.status is ConnectionStatus.ACTIVE

    async def _start_child(self, message_id: str) -> bool:
        """Starts the message's workflow as a child; False when that message already had one."""
        connection_id = self._run.connection_id
        try:
            child = await workflow.start_child_workflow(
                MessageWorkflow.run,
                MessageInput(connection_id=connection_id, message_id=message_id, run_steps=True),
                id=message_workflow_id(connection_id, message_id),
                priority=self.priority(),
                # Children outlive this run: continue-as-new, a disconnect or a deploy never cancels them.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                # A message already handled (within the namespace's retention) is never run again.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(CONNECTION_ID, connection_id)]),
            )
        except WorkflowAlreadyStartedError:
            return False  # Graph's repeats, created+updated pairs, catch-up overlap: the dedup working
        self.track(child)
        return True

    async def _start_by_activity(self, batch: list[str]) -> bool:
        """The release before the children: independent workflows started by a local activity."""
        try:
            await workflow.execute_local_activity(
                start_message_workflows,
                MessageStarts(connection_id=self._run.connection_id, message_ids=batch),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=STEP_DEADLINE,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
                ),
                summary=f"start {len(batch)} message workflow(s)",
            )
        # A local activity's failure arrives as its own error, not wrapped in an ActivityError.
        except FailureError:
            return False
        return True

    async def _start_first_release_child(self, message_id: str) -> None:
        """The first release's children (no search attribute, nothing counted): kept for replays."""
        connection_id = self._run.connection_id
        try:
            await workflow.start_child_workflow(
                MessageWorkflow.run,
                MessageInput(connection_id=connection_id, message_id=message_id),
                id=message_workflow_id(connection_id, message_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            self.started_this_run += 1
        except WorkflowAlreadyStartedError:
            pass

    def _remember(self, message_ids: list[str]) -> None:
        state = self._run.state
        timing = self._run.input.timing
        state.recent_messages.extend(message_ids)
        self._recent.update(message_ids)
        self._recent_bytes += sum(id_bytes(m) for m in message_ids)
        excess = len(state.recent_messages) - timing.recent_messages_kept
        if self._run.patches.backlog:
            # Bounded in bytes as well as in count: Graph's ids vary in length.
            over = self._recent_bytes - timing.recent_bytes_max
            dropped = 0
            while over > 0 and dropped < len(state.recent_messages):
                over -= id_bytes(state.recent_messages[dropped])
                dropped += 1
            excess = max(excess, dropped)
        if excess > 0:
            for old in state.recent_messages[:excess]:
                self._recent.discard(old)
            self._recent_bytes -= sum(id_bytes(m) for m in state.recent_messages[:excess])
            del state.recent_messages[:excess]

    async def _catch_up(self) -> None:
        """Delta over the inbox: every message since the last round that has no outcome yet."""
        self._run.state.catch_up_requested = False
        await self._attempts.attempt(self._catch_up_rounds(), self._catch_up_later)

    async def _catch_up_rounds(self) -> None:
        run = self._run
        state = run.state
        while True:
            request = CatchUpRequest(connection_id=run.connection_id, call=state.catch_up_calls + 1)
            found = await call(CatchUpActivities.catch_up_messages, request, "delta catch-up")
            state.catch_up_calls += 1  # have it: the next call may start from the saved position
            self.enqueue(found.message_ids)
            if found.complete:
                break
            if not self._room_for_catch_up():
                # The rest of the round waits for the backlog to drain (its position is saved).
                state.catch_up_requested = True
                return
        state.next_reconcile_at = workflow.now() + run.input.timing.reconcile_interval

    def _catch_up_later(self) -> None:
        self._run.state.next_reconcile_at = workflow.now() + self._run.input.timing.retry_later
