"""The connection's outgoing email: board events (signalled by the API's forwarder) become one
SendEmailWorkflow child each, id `send/<connection>/<event>/<recipe>` with REJECT_DUPLICATE, so an event
signalled twice (the forwarder delivers at least once) still sends one email.

Events wait in the state until started (bounded: MAX_PENDING_SENDS, carried across continue-as-new).
While the connection is active or still connecting they start normally: the child's own retries wait
out an outage. A revoked or invalid connection cannot send: its children record the send as failed with
the connection's reason, without rendering or sending anything.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from payloads.connection import ConnectionStatus
    from payloads.sends import MAX_PENDING_SENDS, BoardEventSignal, SendEmailInput
    from workflows.ids import send_workflow_id
    from workflows.search_attributes import CONNECTION_ID
    from workflows.send_email import SendEmailWorkflow

from workflows.connection_parts.run_state import RunState

# Statuses whose children start normally; under the others the children record a failure.
_SENDING = (ConnectionStatus.ACTIVE, ConnectionStatus.CONNECTING)


class Sends:
    def __init__(self, run: RunState) -> None:
        self._run = run
        # Send workflows started by this run (continue-as-new after `children_per_run`).
        self.started_this_run = 0

    def enqueue(self, event: BoardEventSignal) -> None:
        pending = self._run.state.pending_sends
        if event in pending:
            return  # the forwarder's repeat, before its child started: the child id would refuse it anyway
        if len(pending) >= MAX_PENDING_SENDS:
            # Bounded state: beyond this the event is dropped and counted (the forwarder hands over at
            # most a few hundred per second and the loop starts them in the next workflow task).
            self._run.state.sends_dropped += 1
            workflow.logger.warning("too many pending sends; dropped board event %s", event.event_id)
            return
        pending.append(event)

    def has_work(self) -> bool:
        return bool(self._run.state.pending_sends)

    def run_is_full(self) -> bool:
        return self.started_this_run >= self._run.input.timing.children_per_run

    async def process(self) -> None:
        state = self._run.state
        batch_size = self._run.input.timing.child_batch
        while state.pending_sends and not self.run_is_full():
            batch = state.pending_sends[:batch_size]
            refused = "" if state.status in _SENDING else self._refusal()
            # Started concurrently: one workflow task for the whole batch.
            started = await asyncio.gather(*(self._start_child(event, refused) for event in batch))
            self.started_this_run += len(batch)
            state.sends_started += sum(started)
            del state.pending_sends[: len(batch)]

    def _refusal(self) -> str:
        state = self._run.state
        why = f": {state.status_reason}" if state.status_reason else ""
        return f"the connection is {state.status.value}{why}; reconnect it to send"[:200]

    async def _start_child(self, event: BoardEventSignal, refused: str) -> bool:
        """Starts the event's send workflow; False when this event and recipe already had one."""
        connection_id = self._run.connection_id
        try:
            await workflow.start_child_workflow(
                SendEmailWorkflow.run,
                SendEmailInput(
                    connection_id=connection_id,
                    event_id=event.event_id,
                    recipe_id=event.recipe_id,
                    refused=refused,
                ),
                id=send_workflow_id(connection_id, event.event_id, event.recipe_id),
                # Outlives this run: continue-as-new, a disconnect or a deploy never cancels a send.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                # One event, one workflow per recipe, ever (within the namespace's retention; past it the
                # send ledger still refuses a second email).
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(CONNECTION_ID, connection_id)]),
            )
        except WorkflowAlreadyStartedError:
            return False
        return True
