"""What every part of a connection workflow's run shares: its input, its state, and the patches it runs."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from payloads.connection import ConnectionInput, ConnectionRef, ConnectionState


@dataclass
class Patches:
    """Decided once, first thing in every run (workflows/connection.py)."""

    # Message processing at all (histories recorded before it replay without it).
    messages: bool = False
    # Message workflows as children, with the ConnectionId search attribute and duplicates counted.
    children: bool = False
    # Message workflows started by a local activity per batch (the release before the children).
    starts_by_activity: bool = False
    # Outgoing email: board events start SendEmailWorkflow children (workflows/connection_parts/sends.py).
    sends: bool = False
    # The waiting ids and the recent window capped in bytes, one batch of starts per turn of the loop
    # (workflows/connection_parts/messages.py).
    backlog: bool = False
    # Failed messages redone on request (`redo_messages` update, workflows/connection_parts/redo.py).
    redo: bool = False
    # Catch-up also redoes dead-grant failures (after a reconnect) and workflows closed without an outcome.
    redo_catch_up: bool = False
    # At most ConnectionTiming.children_in_flight message workflows of a run running at once: a backlog
    # waits in the state and the outbox, not as thousands of running workflows whose tasks would queue
    # ahead of the connection's own (a disconnect, a refresh, a renewal).
    in_flight: bool = False


@dataclass
class RunState:
    input: ConnectionInput
    patches: Patches

    @property
    def state(self) -> ConnectionState:
        return self.input.state

    @property
    def connection_id(self) -> str:
        return self.input.connection_id

    def ref(self) -> ConnectionRef:
        return ConnectionRef(connection_id=self.input.connection_id, mailbox=self.input.mailbox)
