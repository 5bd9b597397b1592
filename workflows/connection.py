"""ConnectionWorkflow: one long-lived workflow per connected mailbox, id `connection/<connection id>`.

It validates the mailbox, keeps the Graph subscription alive, refreshes the tokens ahead of expiry,
notices revocations, starts a child workflow per notified message and, on disconnect, removes every trace
of the connection's auth data. It only orchestrates: every call to Graph, Vault or the database is an
activity, and it carries ids, instants and statuses, never a secret.

Shape (samples-python message_passing/safe_message_handlers): signal handlers only record what was
asked; the main loop acts on it and sleeps in `wait_condition` until the earliest due instant or the
next signal; the whole state is carried across continue-as-new. Each job is a part of its own
(workflows/connection_parts/): tokens, subscription, messages, status, and the calls with the one
failure path they share.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.connection import ConnectionActivities
    from payloads.connection import (
        GRANT_REVOKED,
        ConnectionInput,
        ConnectionStatus,
        ConnectionView,
        LifecycleEvent,
    )
    from payloads.messages import NotifiedMessages
    from payloads.redo import RedoRequest
    from payloads.sends import BoardEventSignal

from workflows.connection_parts.calls import Attempts, ConnectionFailure, call, call_until_done
from workflows.connection_parts.messages import Messages
from workflows.connection_parts.redo import Redo
from workflows.connection_parts.run_state import Patches, RunState
from workflows.connection_parts.sends import Sends
from workflows.connection_parts.status import Status
from workflows.connection_parts.subscription import Subscription
from workflows.connection_parts.tokens import Tokens
from workflows.ids import connection_workflow_id

__all__ = ["CHILDREN_PATCH", "ConnectionWorkflow", "connection_workflow_id"]

# Message processing (issue 5) came after the first recorded histories: new runs take it, replays of
# older histories do not.
MESSAGES_PATCH = "message-processing-v1"
# Message workflows started by a local activity per batch instead of as children (an earlier release).
STARTS_BY_ACTIVITY_PATCH = "message-starts-by-activity-v1"
# Back to child workflows (the designed shape: the UI links parent and children), each batch started in
# one workflow task, with the ConnectionId search attribute; duplicates counted.
CHILDREN_PATCH = "message-children-v2"
# Outgoing email (board events -> SendEmailWorkflow children) came after all of the above.
SENDS_PATCH = "outgoing-email-sends-v1"
# Bounded under any backlog: waiting and recent ids capped in bytes, one batch of starts per turn
# (workflows/connection_parts/messages.py).
BACKLOG_PATCH = "message-backlog-bounded-v1"
# Failed messages redone on request (`redo_messages` update, workflows/connection_parts/redo.py).
REDO_PATCH = "message-redo-v1"
# Catch-up also redoes dead-grant failures after a reconnect and message workflows closed without an
# outcome (a new activity after each catch-up).
REDO_CATCH_UP_PATCH = "message-redo-catch-up-v1"
# At most `children_in_flight` message workflows of a run running at once, at a lower task-queue
# priority than the connection's own work (Patches.in_flight).
IN_FLIGHT_PATCH = "message-children-in-flight-v1"


@workflow.defn(name="ConnectionWorkflow")
class ConnectionWorkflow:
    @workflow.init
    def __init__(self, input: ConnectionInput) -> None:
        self._input = input
        self._state = input.state
        self._run = RunState(input, Patches())
        self._status = Status(self._run)
        attempts = Attempts(self._fail)
        self._tokens = Tokens(self._run, self._status, attempts)
        self._subscription = Subscription(self._run, self._status, attempts)
        self._messages = Messages(self._run, self._status, attempts)
        self._redo = Redo(self._run, self._status, self._messages, attempts)
        self._sends = Sends(self._run)

    # ----- signals and the query ------------------------------------------------------------------

    @workflow.signal
    def lifecycle(self, event: LifecycleEvent) -> None:
        """A lifecycle notification for this connection's subscription (validated by the webhook)."""
        if event not in self._state.pending_lifecycle:
            self._state.pending_lifecycle.append(event)

    @workflow.signal
    def notified(self, batch: NotifiedMessages) -> None:
        """Message ids from validated change notifications (the webhook batches them per request)."""
        self._messages.enqueue(batch.message_ids)
        self._state.last_notification_at = workflow.now()

    @workflow.update
    def take_notified(self, batch: NotifiedMessages) -> int:
        """Message ids from validated change notifications, handed over by the API's forwarder. An
        update rather than a signal so that a batch that does not fit is refused (below) and stays in
        the outbox, outside the history, until the backlog has drained. Returns how many were new."""
        fresh = len(self._messages.new_ids(batch.message_ids))
        self._messages.enqueue(batch.message_ids)
        self._state.last_notification_at = workflow.now()
        return fresh

    @take_notified.validator
    def _room_for(self, batch: NotifiedMessages) -> None:
        if not self._messages.fits(batch.message_ids):
            raise ValueError(
                "backlogged: the connection holds as many waiting messages as it may; try again later"
            )
        if self._messages.run_is_full():
            # This run is about to continue as new: an update accepted now would make the server
            # refuse that command (UNHANDLED_COMMAND) and the task be redone; the next run takes it.
            raise ValueError("continuing as new: try again in a moment")

    @workflow.update
    def redo_messages(self, request: RedoRequest) -> int:
        """Messages to process again (the API: a failed message, or all failures since a time): each
        gets a new MessageWorkflow named by the request id. Returns how many were not waiting already."""
        return self._redo.enqueue(request)

    @redo_messages.validator
    def _room_for_redo(self, request: RedoRequest) -> None:
        # Refused requests are never written to the history: the caller tries again later.
        refusal = self._redo.refusal(request)
        if refusal:
            raise ValueError(refusal)

    @workflow.signal
    def board_event(self, event: BoardEventSignal) -> None:
        """A board event for one of this connection's outgoing recipes (the API's forwarder)."""
        self._sends.enqueue(event)

    @workflow.signal
    def recipes_changed(self) -> None:
        """An incoming recipe of this connection was created, changed or deleted (the recipes API):
        the subscription may need to watch another resource."""
        self._state.recipes_changed = True

    @workflow.signal
    def reconnected(self) -> None:
        """New tokens for this connection are in Vault (the user consented again)."""
        self._state.reconnect_requested = True

    @workflow.signal
    def disconnect(self) -> None:
        self._state.disconnect_requested = True

    @workflow.query
    def status(self) -> ConnectionView:
        s = self._state
        return ConnectionView(
            connection_id=self._input.connection_id,
            mailbox=self._input.mailbox,
            status=s.status,
            status_reason=s.status_reason,
            access_expires_at=s.access_expires_at,
            subscription_id=s.subscription_id,
            subscription_expires_at=s.subscription_expires_at,
            last_notification_at=s.last_notification_at,
        )

    # ----- main loop ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ConnectionInput) -> ConnectionView:
        state = self._state
        patches = self._run.patches
        # Decided once, first thing in every run: histories recorded before a change replay without it,
        # and a running workflow takes it up at its next continue-as-new. Newest first: a run that has
        # one patch's marker never asks for the older one.
        patches.messages = self._input.incoming and workflow.patched(MESSAGES_PATCH)
        patches.children = patches.messages and workflow.patched(CHILDREN_PATCH)
        patches.starts_by_activity = (
            patches.messages and not patches.children and workflow.patched(STARTS_BY_ACTIVITY_PATCH)
        )
        patches.sends = workflow.patched(SENDS_PATCH)
        patches.backlog = patches.children and workflow.patched(BACKLOG_PATCH)
        patches.redo = patches.backlog and workflow.patched(REDO_PATCH)
        patches.redo_catch_up = patches.redo and workflow.patched(REDO_CATCH_UP_PATCH)
        patches.in_flight = patches.redo_catch_up and workflow.patched(IN_FLIGHT_PATCH)
        # The UI's static summary and details belong to the first run only (continue-as-new cannot
        # carry them): every run shows its own current details from the start.
        self._status.show()
        while True:
            if patches.sends:
                # First: a disconnect below ends the run, and what waits here would be lost with it.
                await self._sends.process()
            if state.disconnect_requested:
                await self._disconnect()
                return self.status()
            if state.reconnect_requested:
                state.reconnect_requested = False
                # New tokens: the messages that failed for the dead grant can now be made.
                state.redo_dead_grants = self._run.patches.redo_catch_up
                state.status = ConnectionStatus.CONNECTING
                state.next_refresh_at = None
            if state.status is ConnectionStatus.CONNECTING and self._is_due(state.next_refresh_at):
                await self._start_up()
            elif state.status is ConnectionStatus.ACTIVE:
                await self._do_due_work()
            if (
                workflow.info().is_continue_as_new_suggested()
                or self._messages.run_is_full()
                or self._sends.run_is_full()
            ):
                # Handlers only record into state, so once they have finished the state is complete.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._input.model_copy(update={"state": state}))
            await self._sleep_until_due_or_signalled()

    async def _sleep_until_due_or_signalled(self) -> None:
        state = self._state
        working = state.status in (ConnectionStatus.ACTIVE, ConnectionStatus.CONNECTING)
        due = self._next_due() if working else None
        timeout = max(due - workflow.now(), timedelta(seconds=1)) if due else None
        active = ConnectionStatus.ACTIVE
        try:
            await workflow.wait_condition(
                lambda: (
                    state.disconnect_requested
                    or state.reconnect_requested
                    or (state.status is active and bool(state.pending_lifecycle))
                    or (state.status is active and state.recipes_changed)
                    # Only when this run processes mail: otherwise pending ids would wake it forever.
                    or (self._run.patches.messages and state.status is active and self._messages.has_work())
                    or (self._run.patches.sends and self._sends.has_work())
                    or (self._run.patches.redo and state.status is active and self._redo.has_work())
                ),
                timeout=timeout,
                timeout_summary="next refresh or renewal" if timeout else None,
            )
        except TimeoutError:
            pass

    def _is_due(self, instant: datetime | None) -> bool:
        return instant is None or instant <= workflow.now()

    def _next_due(self) -> datetime | None:
        candidates = [self._state.next_refresh_at, self._state.next_renewal_at]
        if self._run.patches.messages:
            candidates.append(self._state.next_reconcile_at)
        present = [c for c in candidates if c is not None]
        return min(present) if present else None

    async def _do_due_work(self) -> None:
        state = self._state
        while state.pending_lifecycle and state.status is ConnectionStatus.ACTIVE:
            await self._on_lifecycle(state.pending_lifecycle.pop(0))
        if state.status is ConnectionStatus.ACTIVE and state.recipes_changed:
            await self._subscription.follow_recipes()
        now = workflow.now()
        if state.status is ConnectionStatus.ACTIVE and state.next_refresh_at and state.next_refresh_at <= now:
            await self._tokens.refresh()
        if state.status is ConnectionStatus.ACTIVE and state.next_renewal_at and state.next_renewal_at <= now:
            await self._subscription.renew()
        if self._run.patches.messages:
            await self._messages.process()
        if self._run.patches.redo:
            if self._run.patches.redo_catch_up:
                await self._redo.after_catch_up()
            await self._redo.process()

    async def _on_lifecycle(self, event: LifecycleEvent) -> None:
        workflow.logger.info("lifecycle event %s", event.value)
        if event is LifecycleEvent.REAUTHORIZATION_REQUIRED:
            # Refresh at once: a revoked grant shows here within a minute of Graph's notice.
            await self._tokens.refresh()
            if self._state.status is ConnectionStatus.ACTIVE and self._state.subscription_id:
                self._state.next_renewal_at = workflow.now()
                await self._subscription.renew()
        elif event is LifecycleEvent.SUBSCRIPTION_REMOVED:
            await self._subscription.recreate(replaces=self._state.subscription_id)
        elif event is LifecycleEvent.MISSED:
            self._state.catch_up_requested = self._run.patches.messages

    # ----- start-up, failure, disconnect ----------------------------------------------------------

    async def _start_up(self) -> None:
        """Validate the mailbox and subscribe; used on the first run and after a reconnect."""
        state = self._state
        state.status = ConnectionStatus.CONNECTING
        state.status_reason = ""
        state.pending_lifecycle.clear()
        self._status.show("Connecting: checking tokens and mailbox")
        try:
            await self._tokens.describe()
            check = await call(ConnectionActivities.validate_mailbox, self._run.ref(), "validity check")
            if not check.ok:
                await self._status.set(ConnectionStatus.INVALID, check.reason)
                return
            state.validated = True
            if self._input.incoming:
                await self._subscription.create(replaces=state.subscription_id)
        except ConnectionFailure as failure:
            await self._fail(failure)
            return
        except ActivityError:
            # Not a verdict on the connection, only an outage that outlasted the retries: stay
            # connecting and start over later (next_refresh_at doubles as the retry instant).
            state.next_refresh_at = workflow.now() + self._input.timing.retry_later
            await self._status.set(
                ConnectionStatus.CONNECTING, "Microsoft or the token store did not answer; retrying"
            )
            return
        await self._status.set(ConnectionStatus.ACTIVE, "")

    async def _fail(self, failure: ConnectionFailure) -> None:
        """The connection's work ends with a reason for the user; only the user can mend it (reconnect)."""
        if failure.kind == GRANT_REVOKED:
            await self._status.set(ConnectionStatus.REVOKED, failure.reason)
            # Graph may still let us delete the subscription; if it does not, it expires by itself.
            await self._subscription.delete_quietly()
        else:
            await self._status.set(ConnectionStatus.INVALID, failure.reason)
        self._state.next_refresh_at = None
        self._state.next_renewal_at = None

    async def _disconnect(self) -> None:
        self._status.show("Disconnecting: deleting the subscription and the stored tokens")
        await self._subscription.delete_quietly()
        # This one must succeed, however long Vault is away: retried until it does.
        await call_until_done(
            ConnectionActivities.destroy_connection_secrets, self._run.ref(), "destroy Vault secrets"
        )
        self._state.next_refresh_at = None
        self._state.next_renewal_at = None
        await self._status.set(ConnectionStatus.DISCONNECTED, "disconnected by the user")
