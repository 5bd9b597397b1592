"""Calling the connection's activities, typed by their methods, and the one way their failures are handled.

Ordinary activities retry with backoff for a while. Errors retrying cannot fix come back as
non-retryable ApplicationErrors of the types below and become a `ConnectionFailure`, which ends the
connection's work with a reason for the user; an outage that outlasts the retries is no verdict on the
connection, only a reason to try again later (`attempt`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.connection import ConnectionActivities
    from payloads.connection import GRANT_REVOKED, MAILBOX_INVALID, SUBSCRIPTION_GONE

NON_RETRYABLE = [GRANT_REVOKED, SUBSCRIPTION_GONE, MAILBOX_INVALID]
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=NON_RETRYABLE,
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Past this a step is given up for now and tried again later (ConnectionTiming.retry_later), so a long
# Graph or Vault outage never leaves the workflow deaf to disconnect and reconnect signals.
STEP_DEADLINE = timedelta(minutes=10)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")
ActivityMethod = Callable[[Any, ArgT], Awaitable[ResultT]]


class ConnectionFailure(Exception):
    """An activity failed with one of the non-retryable types; `reason` is shown to the user."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


async def call(activity: ActivityMethod[ArgT, ResultT], arg: ArgT, summary: str) -> ResultT:
    """One step, retried for up to STEP_DEADLINE; non-retryable failures raise ConnectionFailure."""
    try:
        result: ResultT = await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            schedule_to_close_timeout=STEP_DEADLINE,
            retry_policy=RETRY,
            summary=summary,
        )
        return result
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in NON_RETRYABLE:
            raise ConnectionFailure(cause.type, cause.message) from err
        raise


async def call_until_done(activity: ActivityMethod[ArgT, None], arg: ArgT, summary: str) -> None:
    """A step that must happen however long it takes (recording a status, destroying secrets)."""
    await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, summary=summary
    )


class Attempts:
    """The failure path every step shares: a ConnectionFailure ends the connection's work with its reason
    (`on_failure`, the status part's `fail`); an outage runs the step's `later` and is tried again."""

    def __init__(self, on_failure: Callable[[ConnectionFailure], Coroutine[Any, Any, None]]) -> None:
        self._on_failure = on_failure

    async def attempt(self, step: Awaitable[ResultT], later: Callable[[], None]) -> ResultT | None:
        """The step's result, or None when it failed (and was handled)."""
        try:
            return await step
        except ConnectionFailure as failure:
            await self._on_failure(failure)
        except ActivityError:
            later()
        return None


__all__ = ["ConnectionActivities", "ConnectionFailure"]
