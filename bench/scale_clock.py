"""The product's real connection activities with their answers moved onto the workflow's clock, for a
connection workflow on the time-skipping test server.

The emulator, Vault and the database keep wall-clock time: a token it issues expires 60 wall minutes
from now. On a server that skips 90 days in minutes, the workflow would see every such instant in its
past and refresh or renew every 30-60 s of simulated time, which no real connection does. So each
activity that answers with an instant runs the real activity (real Graph call against the emulator,
real Vault, real database) and the instant it returns is moved by (workflow time the activity was
scheduled at - wall time now): the durations are the emulator's, only the origin changes. Every other
activity runs unchanged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from activities.connection import ConnectionActivities
from payloads.connection import (
    ConnectionRef,
    RefreshResult,
    SubscriptionInfo,
    SubscriptionRef,
    SubscriptionRequest,
)


def _on_workflow_clock(instant: datetime) -> datetime:
    return instant - datetime.now(UTC) + activity.info().current_attempt_scheduled_time


class RebasedConnectionActivities:
    def __init__(self, real: ConnectionActivities) -> None:
        self._real = real

    @activity.defn(name="describe_tokens")
    async def describe_tokens(self, ref: ConnectionRef) -> RefreshResult:
        result = await self._real.describe_tokens(ref)
        return RefreshResult(access_expires_at=_on_workflow_clock(result.access_expires_at))

    @activity.defn(name="refresh_tokens")
    async def refresh_tokens(self, ref: ConnectionRef) -> RefreshResult:
        result = await self._real.refresh_tokens(ref)
        return RefreshResult(access_expires_at=_on_workflow_clock(result.access_expires_at))

    @activity.defn(name="create_subscription")
    async def create_subscription(self, request: SubscriptionRequest) -> SubscriptionInfo:
        return _rebased(await self._real.create_subscription(request))

    @activity.defn(name="renew_subscription")
    async def renew_subscription(self, ref: SubscriptionRef) -> SubscriptionInfo:
        return _rebased(await self._real.renew_subscription(ref))

    @activity.defn(name="follow_recipe_folders")
    async def follow_recipe_folders(self, ref: SubscriptionRef) -> SubscriptionInfo:
        return _rebased(await self._real.follow_recipe_folders(ref))

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.describe_tokens,
            self.refresh_tokens,
            self.create_subscription,
            self.renew_subscription,
            self.follow_recipe_folders,
        ]


def _rebased(info: SubscriptionInfo) -> SubscriptionInfo:
    return info.model_copy(update={"expires_at": _on_workflow_clock(info.expires_at)})


def _name(fn: Callable[..., Any]) -> str:
    return str(activity._Definition.must_from_callable(fn).name)


def replaced(product: Sequence[Callable[..., Any]], twins: Sequence[Callable[..., Any]]) -> list[Any]:
    """The worker's activity list with each of `twins` in place of the product's of the same name."""
    names = {_name(fn) for fn in twins}
    return [*(fn for fn in product if _name(fn) not in names), *twins]
