"""ConnectionWorkflow over weeks of simulated time on the time-skipping test server.

Microsoft cannot be made to age by a month, so here the activities are a simulated Microsoft that keeps
time by the test server's clock (the activity's scheduled time) and follows graph-facts.md: access
tokens live 60-90 minutes, refresh tokens die after 90 idle days, subscriptions after their expiry,
and a revoked grant refuses every refresh. The real activities run against the emulator in
tests/e2e/test_connect.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from payloads.connection import (
    GRANT_REVOKED,
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
from payloads.messages import CatchUpRequest, CatchUpResult, NotifiedMessages
from payloads.redo import RedoCandidates, RedoCandidatesRequest
from tests.replay.record import RECORD, write_single_run
from workflows.connection import ConnectionWorkflow

ACCESS_LIFETIME = timedelta(minutes=75)
REFRESH_INACTIVITY = timedelta(days=90)


@dataclass
class SimulatedMicrosoft:
    revoked_reason: str | None = None
    refreshes: list[datetime] = field(default_factory=list)
    last_refresh: datetime | None = None
    subscriptions: dict[str, datetime] = field(default_factory=dict)
    created: int = 0
    renewed: int = 0
    deleted: list[str] = field(default_factory=list)
    destroyed: bool = False
    statuses: list[StatusRecord] = field(default_factory=list)
    drop_next_renewal: bool = False
    catch_ups: list[datetime] = field(default_factory=list)
    access_lifetime: timedelta = ACCESS_LIFETIME
    mailbox_check: ValidationResult = field(default_factory=lambda: ValidationResult(ok=True))

    @staticmethod
    def now() -> datetime:
        return activity.info().current_attempt_scheduled_time

    @activity.defn(name="describe_tokens")
    async def describe_tokens(self, ref: ConnectionRef) -> RefreshResult:
        self.last_refresh = self.now()
        return RefreshResult(access_expires_at=self.now() + self.access_lifetime)

    @activity.defn(name="refresh_tokens")
    async def refresh_tokens(self, ref: ConnectionRef) -> RefreshResult:
        now = self.now()
        if self.revoked_reason:
            raise ApplicationError(self.revoked_reason, type=GRANT_REVOKED, non_retryable=True)
        if self.last_refresh and now - self.last_refresh > REFRESH_INACTIVITY:
            raise ApplicationError("inactive for too long", type=GRANT_REVOKED, non_retryable=True)
        self.last_refresh = now
        self.refreshes.append(now)
        return RefreshResult(access_expires_at=now + self.access_lifetime)

    @activity.defn(name="validate_mailbox")
    async def validate_mailbox(self, ref: ConnectionRef) -> ValidationResult:
        return self.mailbox_check

    @activity.defn(name="create_subscription")
    async def create_subscription(self, request: SubscriptionRequest) -> SubscriptionInfo:
        self._expire()
        if request.replaces_subscription_id:
            self.subscriptions.pop(request.replaces_subscription_id, None)
        sub_id = str(uuid.uuid4())
        self.subscriptions[sub_id] = self.now() + request.lifetime
        self.created += 1
        return SubscriptionInfo(subscription_id=sub_id, expires_at=self.subscriptions[sub_id])

    @activity.defn(name="renew_subscription")
    async def renew_subscription(self, ref: SubscriptionRef) -> SubscriptionInfo:
        self._expire()
        if self.drop_next_renewal:
            self.drop_next_renewal = False
            self.subscriptions.pop(ref.subscription_id, None)
        if ref.subscription_id not in self.subscriptions:
            raise ApplicationError("subscription not found", type=SUBSCRIPTION_GONE, non_retryable=True)
        self.subscriptions[ref.subscription_id] = self.now() + ref.lifetime
        self.renewed += 1
        return SubscriptionInfo(subscription_id=ref.subscription_id, expires_at=self.now() + ref.lifetime)

    @activity.defn(name="delete_subscription")
    async def delete_subscription(self, ref: SubscriptionRef) -> None:
        self.subscriptions.pop(ref.subscription_id, None)
        self.deleted.append(ref.subscription_id)

    @activity.defn(name="destroy_connection_secrets")
    async def destroy_connection_secrets(self, ref: ConnectionRef) -> None:
        self.destroyed = True

    @activity.defn(name="redo_candidates")
    async def redo_candidates(self, request: RedoCandidatesRequest) -> RedoCandidates:
        return RedoCandidates()  # nothing failed for a dead grant, no message workflow terminated

    @activity.defn(name="catch_up_messages")
    async def catch_up_messages(self, request: CatchUpRequest) -> CatchUpResult:
        self.catch_ups.append(self.now())
        return CatchUpResult(message_ids=[], complete=True)

    @activity.defn(name="record_connection_status")
    async def record_connection_status(self, record: StatusRecord) -> None:
        self.statuses.append(record)

    def _expire(self) -> None:
        now = self.now()
        for sub_id, expires in list(self.subscriptions.items()):
            if expires <= now:
                del self.subscriptions[sub_id]

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.describe_tokens,
            self.refresh_tokens,
            self.validate_mailbox,
            self.create_subscription,
            self.renew_subscription,
            self.delete_subscription,
            self.destroy_connection_secrets,
            self.record_connection_status,
            self.catch_up_messages,
            self.redo_candidates,
        ]


async def start(
    env: WorkflowEnvironment, ms: SimulatedMicrosoft, task_queue: str
) -> WorkflowHandle[Any, ConnectionView]:
    connection_id = str(uuid.uuid4())
    return await env.client.start_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(connection_id=connection_id, owner_id="u1", mailbox="ada@example.test"),
        id=f"connection/{connection_id}",
        task_queue=task_queue,
    )


def simulated_worker(env: WorkflowEnvironment, queue: str, ms: SimulatedMicrosoft) -> Worker:
    """The connection workflow on its own task queue, with the simulated Microsoft as its activities."""
    return Worker(env.client, task_queue=queue, workflows=[ConnectionWorkflow], activities=ms.activities())


async def skip(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Skips time in steps: one long skip is a single RPC that can outlast its deadline on a busy machine."""
    step = timedelta(days=1)
    while duration > timedelta(0):
        await env.sleep(min(step, duration))
        duration -= step


async def status(handle: WorkflowHandle[Any, ConnectionView]) -> ConnectionView:
    view: ConnectionView = await handle.query(ConnectionWorkflow.status)
    return view


async def test_thirty_days_of_refreshes_renewals_and_keepalive(time_skipping_env: WorkflowEnvironment):
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(days=30))
        view = await status(handle)
        assert view.status is ConnectionStatus.ACTIVE
        # The access token never lapsed: every refresh came before the previous token expired.
        gaps = [b - a for a, b in zip(ms.refreshes, ms.refreshes[1:], strict=False)]
        assert len(ms.refreshes) >= 30 * 24 * 60 // 75
        assert max(gaps) < ACCESS_LIFETIME
        # The subscription was renewed ahead of expiry and never lapsed: only one was ever created.
        assert ms.created == 1
        assert ms.renewed >= 9
        assert len(ms.subscriptions) == 1
        assert view.subscription_expires_at and view.subscription_expires_at > ms.refreshes[-1]
        # A month of hourly work outgrows one history: the workflow continued as new, state intact.
        latest = await time_skipping_env.client.get_workflow_handle(handle.id).describe()
        assert latest.run_id != handle.first_execution_run_id
        assert ms.statuses[0].status is ConnectionStatus.ACTIVE
        # Reconciliation: a delta catch-up about every hour finds what notifications missed.
        assert len(ms.catch_ups) >= 30 * 24 - 5
        # Every test ends its workflows: an open one without a worker would stall the skipped clock.
        await handle.signal(ConnectionWorkflow.disconnect)
        assert (await handle.result()).status is ConnectionStatus.DISCONNECTED


async def test_revocation_at_any_point_stops_cleanly(time_skipping_env: WorkflowEnvironment):
    for revoke_after in (timedelta(minutes=5), timedelta(days=3, hours=7), timedelta(days=29)):
        ms = SimulatedMicrosoft()
        queue = f"q-{uuid.uuid4()}"
        async with simulated_worker(time_skipping_env, queue, ms):
            handle = await start(time_skipping_env, ms, queue)
            await skip(time_skipping_env, revoke_after)
            ms.revoked_reason = "The user revoked consent for this app"
            # Graph tells the subscription at once; the workflow refreshes at once and sees it.
            await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.REAUTHORIZATION_REQUIRED)
            await skip(time_skipping_env, timedelta(minutes=1))
            view = await status(handle)
            assert view.status is ConnectionStatus.REVOKED, revoke_after
            assert view.status_reason == "The user revoked consent for this app"
            assert view.subscription_id is None and ms.deleted
            refreshes_when_revoked = len(ms.refreshes)
            # No retry storm: a week later nothing more was attempted.
            await skip(time_skipping_env, timedelta(days=7))
            assert len(ms.refreshes) == refreshes_when_revoked
            assert ms.statuses[-1].status is ConnectionStatus.REVOKED
            await handle.signal(ConnectionWorkflow.disconnect)
            result = await handle.result()
            assert result.status is ConnectionStatus.DISCONNECTED


async def test_revocation_found_by_the_next_refresh_without_a_notification(
    time_skipping_env: WorkflowEnvironment,
):
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(hours=5))
        ms.revoked_reason = "Your password was reset by an administrator"
        await skip(time_skipping_env, ACCESS_LIFETIME)
        view = await status(handle)
        assert view.status is ConnectionStatus.REVOKED
        assert view.status_reason == "Your password was reset by an administrator"
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()


async def test_reconnect_then_disconnect(time_skipping_env: WorkflowEnvironment):
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(hours=2))
        ms.revoked_reason = "MFA is now required"
        await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.REAUTHORIZATION_REQUIRED)
        await skip(time_skipping_env, timedelta(minutes=1))
        assert (await status(handle)).status is ConnectionStatus.REVOKED

        # The user consents again: the API stores new tokens and signals the same workflow.
        ms.revoked_reason = None
        await handle.signal(ConnectionWorkflow.reconnected)
        await skip(time_skipping_env, timedelta(minutes=1))
        view = await status(handle)
        assert view.status is ConnectionStatus.ACTIVE and view.status_reason == ""
        assert view.subscription_id in ms.subscriptions

        await handle.signal(ConnectionWorkflow.disconnect)
        result = await handle.result()
        if RECORD:
            await write_single_run(time_skipping_env.client, handle.id, "timeskip-reconnect")
        assert result.status is ConnectionStatus.DISCONNECTED
        assert ms.destroyed
        assert not ms.subscriptions
        assert ms.statuses[-1].status is ConnectionStatus.DISCONNECTED


async def test_removed_or_lost_subscription_is_recreated(time_skipping_env: WorkflowEnvironment):
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(hours=1))
        first = (await status(handle)).subscription_id
        await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.SUBSCRIPTION_REMOVED)
        await skip(time_skipping_env, timedelta(minutes=1))
        second = (await status(handle)).subscription_id
        assert second and second != first and ms.created == 2

        # A renewal that finds the subscription gone (404) re-creates it.
        ms.drop_next_renewal = True
        await skip(time_skipping_env, timedelta(days=3))
        view = await status(handle)
        assert ms.created == 3 and view.subscription_id in ms.subscriptions
        assert view.status is ConnectionStatus.ACTIVE
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
        if RECORD:
            await write_single_run(time_skipping_env.client, handle.id, "timeskip-subscription-recreated")


async def test_run_without_message_processing_sleeps_through_notifications(
    time_skipping_env: WorkflowEnvironment,
):
    """A run that does not process mail (send-only here; pre-patch runs likewise) keeps notified ids
    pending without waking on them: a wait condition that stayed true would spin the workflow forever."""
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        connection_id = str(uuid.uuid4())
        handle = await time_skipping_env.client.start_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(
                connection_id=connection_id, owner_id="u1", mailbox="ada@example.test", incoming=False
            ),
            id=f"connection/{connection_id}",
            task_queue=queue,
        )
        await skip(time_skipping_env, timedelta(minutes=5))
        await handle.signal(ConnectionWorkflow.notified, NotifiedMessages(message_ids=["m1", "m2"]))
        await skip(time_skipping_env, timedelta(hours=3))
        view = await status(handle)
        assert view.status is ConnectionStatus.ACTIVE
        assert ms.created == 0 and not ms.catch_ups
        history = await handle.fetch_history()
        # Asleep between refreshes: a few workflow tasks per refresh, not a spinning loop.
        assert len(history.events) < 200
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
