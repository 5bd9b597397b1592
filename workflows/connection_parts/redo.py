"""Messages processed again on request: a failed message (a dead grant since reconnected, a recipe's
board since fixed, Graph down past the retry window) gets a new MessageWorkflow.

The first id, `message/<connection>/<message>`, is closed for good (REJECT_DUPLICATE), so a redo runs
under `message/<connection>/<message>/redo/<request id>`: the same request delivered twice starts each
message once, a later request starts it again. The item ledger (by recipe and message) keeps every redo
to one item per recipe. The waiting redos count against the same byte cap as notified ids (the
`redo_messages` update's validator refuses what does not fit), and one batch is started per turn of
the connection's loop, like notified messages, so a disconnect or due work never waits behind them.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.redo_candidates import RedoCandidateActivities
    from payloads.connection import ConnectionStatus
    from payloads.messages import MessageInput
    from payloads.redo import RedoCandidatesRequest, RedoEntry, RedoRequest, redo_bytes
    from workflows.ids import redo_workflow_id
    from workflows.message import MessageWorkflow
    from workflows.search_attributes import CONNECTION_ID

from workflows.connection_parts.calls import Attempts, call
from workflows.connection_parts.messages import Messages
from workflows.connection_parts.run_state import RunState
from workflows.connection_parts.status import Status


class Redo:
    def __init__(self, run: RunState, status: Status, messages: Messages, attempts: Attempts) -> None:
        self._run = run
        self._attempts = attempts
        self._status = status
        self._messages = messages
        state = run.state
        self._waiting = {(e.request_id, e.message_id) for e in state.pending_redos}
        messages.held_elsewhere = sum(redo_bytes(e) for e in state.pending_redos)

    def _new_entries(self, request: RedoRequest) -> list[RedoEntry]:
        fresh = dict.fromkeys(m for m in request.message_ids if (request.request_id, m) not in self._waiting)
        return [RedoEntry(request_id=request.request_id, message_id=m) for m in fresh]

    def refusal(self, request: RedoRequest) -> str | None:
        """Why this request cannot be taken now (the update's validator), or None."""
        if not self._run.patches.redo:
            return "this run does not redo messages yet; try again in a moment"
        if self._run.state.status is not ConnectionStatus.ACTIVE:
            return f"the connection is {self._run.state.status.value}"
        if sum(redo_bytes(e) for e in self._new_entries(request)) > self._messages.room():
            return "backlogged: the connection holds as many waiting messages as it may; try again later"
        if self._messages.run_is_full():
            return "continuing as new: try again in a moment"
        return None

    def enqueue(self, request: RedoRequest) -> int:
        """Keeps the request's messages waiting; returns how many were not waiting already."""
        entries = self._new_entries(request)
        for entry in entries:
            self._waiting.add((entry.request_id, entry.message_id))
            self._messages.held_elsewhere += redo_bytes(entry)
            self._run.state.pending_redos.append(entry)
        return len(entries)

    async def after_catch_up(self) -> None:
        """Once per catch-up: redo what it cannot find by itself (the delta skips every message with an
        outcome, and a message whose workflow was terminated has none but also no notification left):
        after a reconnect the failures of the dead grant, always the workflows closed without an
        outcome. Under the same byte cap: what does not fit waits for a later catch-up."""
        state = self._run.state
        if state.catch_up_calls == state.redo_checked_calls or state.status is not ConnectionStatus.ACTIVE:
            return
        await self._attempts.attempt(self._look_for_candidates(), lambda: None)

    async def _look_for_candidates(self) -> None:
        state = self._run.state
        calls = state.catch_up_calls
        # ~150-character ids: what fits under the cap now, at most one update's worth.
        limit = max(0, min(self._messages.room() // 250, 500))
        request = RedoCandidatesRequest(
            connection_id=self._run.connection_id, dead_grants=state.redo_dead_grants, limit=limit
        )
        found = await call(RedoCandidateActivities.redo_candidates, request, "messages to redo")
        state.redo_checked_calls = calls
        if found.dead_grants_done:
            state.redo_dead_grants = False
        if not found.message_ids:
            return
        redo = RedoRequest(request_id=f"catch-up-{calls}", message_ids=found.message_ids)
        room = self._messages.room()
        fitting: list[str] = []
        for entry in self._new_entries(redo):
            room -= redo_bytes(entry)
            if room < 0:
                # Ids longer than the estimate: the rest waits for a later catch-up.
                state.redo_dead_grants = state.redo_dead_grants or request.dead_grants
                break
            fitting.append(entry.message_id)
        if fitting:
            self.enqueue(RedoRequest(request_id=redo.request_id, message_ids=fitting))

    def has_work(self) -> bool:
        return bool(self._run.state.pending_redos) and self._messages.free_slots() > 0

    async def process(self) -> None:
        """One batch of redo starts while the connection stays active and the run has room."""
        run = self._run
        state = run.state
        if not state.pending_redos or state.status is not ConnectionStatus.ACTIVE:
            return
        if self._messages.run_is_full():
            return  # the loop continues as new first; the rest is carried in the state
        batch = state.pending_redos[: self._messages.free_slots()]
        if not batch:
            return  # the run has its maximum running; a child's close wakes the loop
        started = await asyncio.gather(*(self._start(e) for e in batch))
        self._messages.started_this_run += len(batch)
        state.redos_started += sum(started)
        del state.pending_redos[: len(batch)]
        for entry in batch:
            self._waiting.discard((entry.request_id, entry.message_id))
            self._messages.held_elsewhere -= redo_bytes(entry)
        self._status.show()

    async def _start(self, entry: RedoEntry) -> bool:
        """Starts the message's redo as a child; False when this request already started it."""
        connection_id = self._run.connection_id
        try:
            child = await workflow.start_child_workflow(
                MessageWorkflow.run,
                MessageInput(connection_id=connection_id, message_id=entry.message_id, run_steps=True),
                id=redo_workflow_id(connection_id, entry.message_id, entry.request_id),
                priority=self._messages.priority(),
                # Like every message: outlives this run, a disconnect and a deploy.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(CONNECTION_ID, connection_id)]),
            )
        except WorkflowAlreadyStartedError:
            return False  # the same request delivered twice
        self._messages.track(child)
        return True
