"""The connection's Graph subscription: created at start-up (and again when Graph removed it or lost it),
renewed ahead of expiry with jitter, deleted on revocation and disconnect. Its resource (the inbox, or
the whole mailbox) follows the recipes' folders: on a `recipes_changed` signal, and at every renewal in
case a signal was lost; a replaced subscription is followed by a catch-up, which finds what arrived
while it was being replaced."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.connection import ConnectionActivities
    from payloads.connection import SUBSCRIPTION_GONE, SubscriptionInfo, SubscriptionRef, SubscriptionRequest

from workflows.connection_parts.calls import (
    ACTIVITY_TIMEOUT,
    NON_RETRYABLE,
    Attempts,
    ConnectionFailure,
    call,
)
from workflows.connection_parts.run_state import RunState
from workflows.connection_parts.status import Status

# Following the recipes' folders came after the recorded histories. Asked where the new path begins
# (not once per run like the other patches), so a running connection takes it at its next recipe
# change instead of at its next continue-as-new, and a history without the marker replays unchanged.
FOLLOW_PATCH = "recipe-folders-v1"


class Subscription:
    def __init__(self, run: RunState, status: Status, attempts: Attempts) -> None:
        self._run = run
        self._status = status
        self._attempts = attempts

    async def create(self, replaces: str | None) -> None:
        run = self._run
        request = SubscriptionRequest(
            connection_id=run.connection_id,
            mailbox=run.input.mailbox,
            lifetime=run.input.timing.subscription_lifetime,
            replaces_subscription_id=replaces,
        )
        info = await call(ConnectionActivities.create_subscription, request, "create subscription")
        self._schedule_renewal(info)
        # Whatever arrived while there was no subscription is found by the next catch-up.
        run.state.catch_up_requested = run.patches.messages

    async def recreate(self, replaces: str | None) -> None:
        """A new subscription after Graph removed the old one; failures take the shared path."""
        await self._attempts.attempt(self.create(replaces), self._later)

    async def renew(self) -> None:
        run = self._run
        state = run.state
        if not run.input.incoming:
            state.next_renewal_at = None
            return
        if state.subscription_id is None:
            await self.recreate(replaces=None)
            return
        ref = SubscriptionRef(
            connection_id=run.connection_id,
            subscription_id=state.subscription_id,
            mailbox=run.input.mailbox,
            lifetime=run.input.timing.subscription_lifetime,
        )
        await self._attempts.attempt(self._renew_or_recreate(ref), self._later)

    async def _renew_or_recreate(self, ref: SubscriptionRef) -> None:
        try:
            info = await call(ConnectionActivities.renew_subscription, ref, "renew subscription")
        except ConnectionFailure as failure:
            if failure.kind != SUBSCRIPTION_GONE:
                raise
            await self.create(replaces=ref.subscription_id)  # Graph lost it (or it expired)
            return
        # The renewal replaced it (its resource no longer fit the recipes); the marker keeps histories
        # recorded before this from taking the new path.
        if info.subscription_id != ref.subscription_id and workflow.patched(FOLLOW_PATCH):
            self._replaced(info)
            return
        self._schedule_renewal(info)

    async def follow_recipes(self) -> None:
        """Replaces the subscription when the recipes now call for another resource."""
        run = self._run
        state = run.state
        state.recipes_changed = False
        if not run.input.incoming or state.subscription_id is None:
            return  # none to follow; the next create picks the recipes' resource itself
        if not workflow.patched(FOLLOW_PATCH):
            return
        ref = SubscriptionRef(
            connection_id=run.connection_id,
            subscription_id=state.subscription_id,
            mailbox=run.input.mailbox,
            lifetime=run.input.timing.subscription_lifetime,
        )
        info = await self._attempts.attempt(
            call(ConnectionActivities.follow_recipe_folders, ref, "follow recipe folders"), self._later
        )
        if info is not None and info.subscription_id != ref.subscription_id:
            self._replaced(info)

    def _replaced(self, info: SubscriptionInfo) -> None:
        """A new subscription took the old one's place: what arrived meanwhile is found by a catch-up."""
        self._schedule_renewal(info)
        self._run.state.catch_up_requested = self._run.patches.messages

    async def delete_quietly(self) -> None:
        """Deletes the subscription if Graph lets us; if not, Graph expires it by itself."""
        state = self._run.state
        if state.subscription_id is None:
            return
        ref = SubscriptionRef(
            connection_id=self._run.connection_id,
            subscription_id=state.subscription_id,
            mailbox=self._run.input.mailbox,
        )
        try:
            await workflow.execute_activity_method(
                ConnectionActivities.delete_subscription,
                ref,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE),
                summary="delete subscription",
            )
        except ActivityError:
            workflow.logger.info("subscription could not be deleted; Graph expires it by itself")
        state.subscription_id = None
        state.subscription_expires_at = None

    def _later(self) -> None:
        self._run.state.next_renewal_at = workflow.now() + self._run.input.timing.retry_later

    def _schedule_renewal(self, info: SubscriptionInfo) -> None:
        timing = self._run.input.timing
        state = self._run.state
        state.subscription_id = info.subscription_id
        state.subscription_expires_at = info.expires_at
        jitter = timing.renewal_jitter * workflow.random().random()
        state.next_renewal_at = max(
            info.expires_at - timing.renewal_lead - jitter, workflow.now() + timedelta(minutes=1)
        )
        self._status.show()
