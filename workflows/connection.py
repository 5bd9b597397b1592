"""ConnectionWorkflow: one long-lived workflow per connected mailbox, id `connection/<connection id>`.

It validates the mailbox, keeps the Graph subscription alive, refreshes the tokens ahead of expiry,
notices revocations and, on disconnect, removes every trace of the connection's auth data. It only
orchestrates: every call to Graph, Vault or the database is an activity, and it carries ids, instants
and statuses, never a secret.

Shape (samples-python message_passing/safe_message_handlers): signal handlers only record what was
asked; the main loop acts on it and sleeps in `wait_condition` until the earliest due instant or the
next signal; the whole state is carried across continue-as-new.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    WorkflowAlreadyStartedError,
)

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models.connection import (
        GRANT_REVOKED,
        MAILBOX_INVALID,
        SUBSCRIPTION_GONE,
        ConnectionInput,
        ConnectionRef,
        ConnectionStatus,
        ConnectionView,
        LifecycleEvent,
        RefreshResult,
        StatusRecord,
        SubscriptionInfo,
        SubscriptionRef,
        SubscriptionRequest,
        ValidationResult,
    )
    from models.messages import (
        CatchUpRequest,
        CatchUpResult,
        MessageInput,
        MessageStarts,
        MessageStartsResult,
        NotifiedMessages,
    )
    from workflows.message import MessageWorkflow, message_workflow_id
    from workflows.search_attributes import CONNECTION_ID, CONNECTION_STATUS

# Message processing (issue 5) came after the first recorded histories: new runs take it, replays of
# older histories do not.
MESSAGES_PATCH = "message-processing-v1"
# Message workflows started by a local activity per batch instead of as children (fewer events and
# workflow tasks on this workflow per message; see activities/message_starts.py).
STARTS_BY_ACTIVITY_PATCH = "message-starts-by-activity-v1"
# Back to child workflows (the designed shape: the UI links parent and children), each batch started in
# one workflow task, with the ConnectionId search attribute; duplicates counted.
CHILDREN_PATCH = "message-children-v2"

ResultT = TypeVar("ResultT", bound=BaseModel)

# Ordinary activities retry with backoff for a while; errors that retrying cannot fix are raised as
# non-retryable ApplicationErrors of these types and handled by the workflow.
_NON_RETRYABLE = [GRANT_REVOKED, SUBSCRIPTION_GONE, MAILBOX_INVALID]
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=_NON_RETRYABLE,
)
_ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Past this the step is given up for now and retried on the next loop (ConnectionTiming.retry_later),
# so a long Graph or Vault outage never leaves the workflow deaf to disconnect and reconnect signals.
_STEP_DEADLINE = timedelta(minutes=10)


class ConnectionFailure(Exception):
    """An activity failed with one of the non-retryable types; `reason` is shown to the user."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@workflow.defn(name="ConnectionWorkflow")
class ConnectionWorkflow:
    @workflow.init
    def __init__(self, input: ConnectionInput) -> None:
        self._input = input
        self._state = input.state
        self._recent = set(input.state.recent_messages)
        self._pending = set(input.state.pending_messages)
        self._children_started = 0
        self._messages_on = False
        self._children = False
        self._starts_by_activity = False

    # ----- messages -------------------------------------------------------------------------------

    @workflow.signal
    def lifecycle(self, event: LifecycleEvent) -> None:
        """A lifecycle notification for this connection's subscription (validated by the webhook)."""
        if event not in self._state.pending_lifecycle:
            self._state.pending_lifecycle.append(event)

    @workflow.signal
    def notified(self, batch: NotifiedMessages) -> None:
        """Message ids from validated change notifications (the webhook batches them per request)."""
        self._enqueue(batch.message_ids)
        self._state.last_notification_at = workflow.now()

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
        # Decided once, first thing in every run: histories recorded before message processing
        # existed replay without it, and a running workflow takes it up at its next continue-as-new.
        self._messages_on = self._input.incoming and workflow.patched(MESSAGES_PATCH)
        # Newest first: a run that has one patch's marker never asks for the older one.
        self._children = self._messages_on and workflow.patched(CHILDREN_PATCH)
        self._starts_by_activity = (
            self._messages_on and not self._children and workflow.patched(STARTS_BY_ACTIVITY_PATCH)
        )
        # The UI's static summary and details belong to the first run only (continue-as-new cannot
        # carry them): every run shows its own current details from the start.
        workflow.set_current_details(self._details())
        while True:
            if state.disconnect_requested:
                await self._disconnect()
                return self.status()
            if state.reconnect_requested:
                state.reconnect_requested = False
                state.status = ConnectionStatus.CONNECTING
                state.next_refresh_at = None
            if state.status is ConnectionStatus.CONNECTING and self._is_due(state.next_refresh_at):
                await self._start_up()
            elif state.status is ConnectionStatus.ACTIVE:
                await self._do_due_work()
            if (
                workflow.info().is_continue_as_new_suggested()
                or self._children_started >= self._input.timing.children_per_run
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
        try:
            await workflow.wait_condition(
                lambda: (
                    state.disconnect_requested
                    or state.reconnect_requested
                    or (state.status is ConnectionStatus.ACTIVE and bool(state.pending_lifecycle))
                    # Only when this run processes mail: otherwise pending ids would wake it forever.
                    or (
                        self._messages_on
                        and state.status is ConnectionStatus.ACTIVE
                        and self._has_mail_work()
                    )
                ),
                timeout=timeout,
                timeout_summary="next refresh or renewal" if timeout else None,
            )
        except TimeoutError:
            pass

    def _has_mail_work(self) -> bool:
        return bool(self._state.pending_messages or self._state.catch_up_requested)

    def _is_due(self, instant: datetime | None) -> bool:
        return instant is None or instant <= workflow.now()

    def _next_due(self) -> datetime | None:
        candidates = [self._state.next_refresh_at, self._state.next_renewal_at]
        if self._messages_on:
            candidates.append(self._state.next_reconcile_at)
        present = [c for c in candidates if c is not None]
        return min(present) if present else None

    async def _do_due_work(self) -> None:
        state = self._state
        while state.pending_lifecycle and state.status is ConnectionStatus.ACTIVE:
            event = state.pending_lifecycle.pop(0)
            await self._on_lifecycle(event)
        now = workflow.now()
        if state.status is ConnectionStatus.ACTIVE and state.next_refresh_at and state.next_refresh_at <= now:
            await self._refresh()
        if state.status is ConnectionStatus.ACTIVE and state.next_renewal_at and state.next_renewal_at <= now:
            await self._renew_subscription()
        if self._messages_on:
            await self._process_messages()

    # ----- messages -------------------------------------------------------------------------------

    async def _process_messages(self) -> None:
        state = self._state
        if state.next_reconcile_at is None:
            state.next_reconcile_at = workflow.now() + self._input.timing.reconcile_interval
        if state.status is ConnectionStatus.ACTIVE and (
            state.catch_up_requested or state.next_reconcile_at <= workflow.now()
        ):
            await self._catch_up()
        while state.pending_messages and state.status is ConnectionStatus.ACTIVE:
            if self._children_started >= self._input.timing.children_per_run:
                return  # the loop continues as new first; the rest is carried in the state
            batch = state.pending_messages[: self._input.timing.child_batch]
            if self._children:
                started = await asyncio.gather(*(self._start_message_child(m) for m in batch))
                self._children_started += len(batch)
                state.messages_started += sum(started)
                state.duplicates_dropped += len(batch) - sum(started)
                workflow.set_current_details(self._details())
            elif self._starts_by_activity:
                if not await self._start_message_workflows(batch):
                    return  # Temporal did not take them: kept pending, tried again on the next wake-up
                # Counted like children: a run hands over to the next after so many messages, which
                # keeps its history (signals, batches) and its carried state small.
                self._children_started += len(batch)
            else:
                # Started concurrently: one workflow task for the whole batch instead of one per child.
                await asyncio.gather(*(self._start_child(message_id) for message_id in batch))
            del state.pending_messages[: len(batch)]
            self._pending.difference_update(batch)
            self._remember(batch)

    async def _start_message_workflows(self, batch: list[str]) -> bool:
        try:
            await workflow.execute_local_activity(
                "start_message_workflows",
                MessageStarts(connection_id=self._input.connection_id, message_ids=batch),
                result_type=MessageStartsResult,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=_STEP_DEADLINE,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
                ),
                summary=f"start {len(batch)} message workflow(s)",
            )
        # A local activity's failure arrives as its own error, not wrapped in an ActivityError.
        except FailureError:
            return False
        return True

    async def _start_message_child(self, message_id: str) -> bool:
        """Starts the message's workflow as a child; False when that message already had one."""
        connection_id = self._input.connection_id
        try:
            await workflow.start_child_workflow(
                MessageWorkflow.run,
                MessageInput(connection_id=connection_id, message_id=message_id),
                id=message_workflow_id(connection_id, message_id),
                # Children outlive this run: continue-as-new, a disconnect or a deploy never cancels them.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                # A message already handled (within the namespace's retention) is never run again.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(CONNECTION_ID, connection_id)]),
            )
        except WorkflowAlreadyStartedError:
            return False  # Graph's repeats, created+updated pairs, catch-up overlap: the dedup working
        return True

    async def _start_child(self, message_id: str) -> None:
        """The first release's children (no search attribute, nothing counted): kept for replays."""
        connection_id = self._input.connection_id
        try:
            await workflow.start_child_workflow(
                MessageWorkflow.run,
                MessageInput(connection_id=connection_id, message_id=message_id),
                id=message_workflow_id(connection_id, message_id),
                # Children outlive this run: continue-as-new must not cancel them.
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                # A message already handled (within the namespace's retention) is never run again.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            self._children_started += 1
        except WorkflowAlreadyStartedError:
            pass  # a duplicate notification: that is the dedup working

    def _enqueue(self, message_ids: list[str]) -> None:
        for message_id in message_ids:
            if message_id not in self._recent and message_id not in self._pending:
                self._pending.add(message_id)
                self._state.pending_messages.append(message_id)

    def _remember(self, message_ids: list[str]) -> None:
        state = self._state
        state.recent_messages.extend(message_ids)
        self._recent.update(message_ids)
        excess = len(state.recent_messages) - self._input.timing.recent_messages_kept
        if excess > 0:
            for old in state.recent_messages[:excess]:
                self._recent.discard(old)
            del state.recent_messages[:excess]

    async def _catch_up(self) -> None:
        """Delta over the inbox: every message since the last round that has no outcome yet."""
        state = self._state
        state.catch_up_requested = False
        try:
            while True:
                request = CatchUpRequest(
                    connection_id=self._input.connection_id, call=state.catch_up_calls + 1
                )
                found = await self._call("catch_up_messages", request, CatchUpResult, "delta catch-up")
                state.catch_up_calls += 1  # have it: the next call may start from the saved position
                self._enqueue(found.message_ids)
                if found.complete:
                    break
        except ConnectionFailure as failure:
            await self._on_failure(failure)
            return
        except ActivityError:
            state.next_reconcile_at = workflow.now() + self._input.timing.retry_later
            return
        state.next_reconcile_at = workflow.now() + self._input.timing.reconcile_interval

    # ----- steps ----------------------------------------------------------------------------------

    async def _start_up(self) -> None:
        """Validate the mailbox and subscribe; used on the first run and after a reconnect."""
        state = self._state
        state.status = ConnectionStatus.CONNECTING
        state.status_reason = ""
        state.pending_lifecycle.clear()
        workflow.set_current_details("Connecting: checking tokens and mailbox")
        try:
            tokens = await self._call("describe_tokens", self._ref(), RefreshResult, "read token expiry")
            self._schedule_refresh(tokens.access_expires_at)
            check = await self._call("validate_mailbox", self._ref(), ValidationResult, "validity check")
            if not check.ok:
                await self._set_status(ConnectionStatus.INVALID, check.reason)
                return
            state.validated = True
            if self._input.incoming:
                await self._create_subscription(replaces=state.subscription_id)
        except ConnectionFailure as failure:
            await self._on_failure(failure)
            return
        except ActivityError:
            # Not a verdict on the connection, only an outage that outlasted the retries: stay
            # connecting and start over later (next_refresh_at doubles as the retry instant).
            state.next_refresh_at = workflow.now() + self._input.timing.retry_later
            await self._set_status(
                ConnectionStatus.CONNECTING, "Microsoft or the token store did not answer; retrying"
            )
            return
        await self._set_status(ConnectionStatus.ACTIVE, "")

    async def _refresh(self) -> None:
        try:
            result = await self._call("refresh_tokens", self._ref(), RefreshResult, "refresh tokens")
        except ConnectionFailure as failure:
            await self._on_failure(failure)
            return
        except ActivityError:
            self._state.next_refresh_at = workflow.now() + self._input.timing.retry_later
            return
        self._state.last_refresh_at = workflow.now()
        self._schedule_refresh(result.access_expires_at)

    async def _renew_subscription(self) -> None:
        state = self._state
        if not self._input.incoming:
            state.next_renewal_at = None
            return
        if state.subscription_id is None:
            await self._guarded(self._create_subscription(replaces=None))
            return
        ref = SubscriptionRef(
            connection_id=self._input.connection_id,
            subscription_id=state.subscription_id,
            mailbox=self._input.mailbox,
            lifetime=self._input.timing.subscription_lifetime,
        )
        try:
            info = await self._call("renew_subscription", ref, SubscriptionInfo, "renew subscription")
        except ConnectionFailure as failure:
            if failure.kind == SUBSCRIPTION_GONE:
                await self._guarded(self._create_subscription(replaces=state.subscription_id))
            else:
                await self._on_failure(failure)
            return
        except ActivityError:
            state.next_renewal_at = workflow.now() + self._input.timing.retry_later
            return
        self._schedule_renewal(info)

    async def _on_lifecycle(self, event: LifecycleEvent) -> None:
        workflow.logger.info("lifecycle event %s", event.value)
        if event is LifecycleEvent.REAUTHORIZATION_REQUIRED:
            # Refresh at once: a revoked grant shows here within a minute of Graph's notice.
            await self._refresh()
            if self._state.status is ConnectionStatus.ACTIVE and self._state.subscription_id:
                self._state.next_renewal_at = workflow.now()
                await self._renew_subscription()
        elif event is LifecycleEvent.SUBSCRIPTION_REMOVED:
            await self._guarded(self._create_subscription(replaces=self._state.subscription_id))
        elif event is LifecycleEvent.MISSED:
            self._state.catch_up_requested = self._messages_on

    async def _create_subscription(self, replaces: str | None) -> None:
        request = SubscriptionRequest(
            connection_id=self._input.connection_id,
            mailbox=self._input.mailbox,
            lifetime=self._input.timing.subscription_lifetime,
            replaces_subscription_id=replaces,
        )
        info = await self._call("create_subscription", request, SubscriptionInfo, "create subscription")
        self._schedule_renewal(info)
        # Whatever arrived while there was no subscription is found by the next catch-up.
        self._state.catch_up_requested = self._messages_on

    async def _guarded(self, step: Any) -> None:
        """Run a subscription step; a revocation ends the connection, an outage retries later."""
        try:
            await step
        except ConnectionFailure as failure:
            await self._on_failure(failure)
        except ActivityError:
            self._state.next_renewal_at = workflow.now() + self._input.timing.retry_later

    async def _on_failure(self, failure: ConnectionFailure) -> None:
        if failure.kind == GRANT_REVOKED:
            await self._set_status(ConnectionStatus.REVOKED, failure.reason)
            # Graph may still let us delete the subscription; if it does not, it expires by itself.
            await self._delete_subscription_quietly()
        else:
            await self._set_status(ConnectionStatus.INVALID, failure.reason)
        self._state.next_refresh_at = None
        self._state.next_renewal_at = None

    async def _disconnect(self) -> None:
        workflow.set_current_details("Disconnecting: deleting the subscription and the stored tokens")
        await self._delete_subscription_quietly()
        # This one must succeed, however long Vault is away: retried until it does.
        await workflow.execute_activity(
            "destroy_connection_secrets",
            self._ref(),
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary="destroy Vault secrets",
        )
        self._state.next_refresh_at = None
        self._state.next_renewal_at = None
        await self._set_status(ConnectionStatus.DISCONNECTED, "disconnected by the user")

    async def _delete_subscription_quietly(self) -> None:
        state = self._state
        if state.subscription_id is None:
            return
        ref = SubscriptionRef(
            connection_id=self._input.connection_id,
            subscription_id=state.subscription_id,
            mailbox=self._input.mailbox,
        )
        try:
            await workflow.execute_activity(
                "delete_subscription",
                ref,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=_NON_RETRYABLE),
                summary="delete subscription",
            )
        except ActivityError:
            workflow.logger.info("subscription could not be deleted; Graph expires it by itself")
        state.subscription_id = None
        state.subscription_expires_at = None

    # ----- helpers --------------------------------------------------------------------------------

    def _ref(self) -> ConnectionRef:
        return ConnectionRef(connection_id=self._input.connection_id, mailbox=self._input.mailbox)

    async def _call(self, name: str, arg: BaseModel, result_type: type[ResultT], summary: str) -> ResultT:
        try:
            result: ResultT = await workflow.execute_activity(
                name,
                arg,
                result_type=result_type,
                start_to_close_timeout=_ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=_STEP_DEADLINE,
                retry_policy=_RETRY,
                summary=summary,
            )
            return result
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in _NON_RETRYABLE:
                raise ConnectionFailure(cause.type, cause.message) from err
            raise

    def _schedule_refresh(self, access_expires_at: datetime) -> None:
        timing = self._input.timing
        state = self._state
        state.access_expires_at = access_expires_at
        jitter = timing.refresh_jitter * workflow.random().random()
        ahead = access_expires_at - timing.refresh_lead - jitter
        last = state.last_refresh_at or workflow.now()
        keepalive = last + timing.keepalive_interval
        state.next_refresh_at = max(min(ahead, keepalive), workflow.now() + timedelta(seconds=30))
        workflow.set_current_details(self._details())

    def _schedule_renewal(self, info: SubscriptionInfo) -> None:
        timing = self._input.timing
        state = self._state
        state.subscription_id = info.subscription_id
        state.subscription_expires_at = info.expires_at
        jitter = timing.renewal_jitter * workflow.random().random()
        state.next_renewal_at = max(
            info.expires_at - timing.renewal_lead - jitter, workflow.now() + timedelta(minutes=1)
        )
        workflow.set_current_details(self._details())

    async def _set_status(self, status: ConnectionStatus, reason: str) -> None:
        state = self._state
        changed = (state.status, state.status_reason) != (status, reason)
        state.status = status
        state.status_reason = reason
        workflow.set_current_details(self._details())
        if not changed and status is not ConnectionStatus.ACTIVE:
            return
        workflow.upsert_search_attributes([CONNECTION_STATUS.value_set(status.value)])
        record = StatusRecord(
            connection_id=self._input.connection_id,
            status=status,
            status_reason=reason,
            subscription_expires_at=state.subscription_expires_at,
            last_notification_at=state.last_notification_at,
        )
        await workflow.execute_activity(
            "record_connection_status",
            record,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"record status {status.value}",
        )

    def _details(self) -> str:
        s = self._state
        lines = [f"**Outlook connection for** {self._input.mailbox}", f"**Status:** {s.status.value}"]
        if s.status_reason:
            lines.append(f"**Reason:** {s.status_reason}")
        if s.subscription_expires_at:
            lines.append(f"**Subscription expires:** {s.subscription_expires_at.isoformat()}")
        if s.next_refresh_at:
            lines.append(f"**Next token refresh:** {s.next_refresh_at.isoformat()}")
        if self._children:
            lines.append(
                f"**Messages:** {s.messages_started} started, {s.duplicates_dropped} duplicates dropped, "
                f"{len(s.pending_messages)} waiting"
            )
        return "\n\n".join(lines)
