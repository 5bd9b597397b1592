"""SendEmailWorkflow: one per (board event, recipe), a child of the recipe's connection workflow, id
`send/<connection id>/<event id>/<recipe id>` (workflows/ids.py), started with REJECT_DUPLICATE: one
event, one workflow per recipe, ever.

Three steps (activities/send_email.py): render (is the trigger still true, what to send), send (one
email, ever: the send ledger and a look in Sent Items make a retry after an unknown outcome safe), and
record (the activity log, once). The rendered email passes from render to send inside Temporal,
encrypted by the payload codec.

Render and record are local activities (database only, quick: a marker each instead of three events and
a task round trip). The send is a regular activity: its retries are then scheduled by the server, so a
worker that dies mid-call is noticed by the send's start-to-close timeout and another worker retries
it, and the UI shows each attempt and its last failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.send_email import SendEmailActivities
    from payloads.connection import GRANT_REVOKED
    from payloads.sends import (
        SEND_REFUSED,
        Outcome,
        RenderResult,
        SendEmailInput,
        SendRecord,
        SendResult,
        SendState,
    )
    from workflows.message import step_failure

# An outage (Graph, Vault, the database) is waited out this long; then the send is recorded as failed.
SEND_DEADLINE = timedelta(days=1)
_NON_RETRYABLE = [SEND_REFUSED, GRANT_REVOKED]
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=_NON_RETRYABLE,
)
_LOCAL_TIMEOUT = timedelta(seconds=30)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


@workflow.defn(name="SendEmailWorkflow")
class SendEmailWorkflow:
    @workflow.run
    async def run(self, input: SendEmailInput) -> SendResult:
        rendered = RenderResult()
        if input.refused:
            result = SendResult(outcome=Outcome.FAILED, reason=input.refused)
        else:
            try:
                rendered, result = await self._render_and_send(input)
            except FailureError as err:
                _kind, reason = step_failure(err)
                result = SendResult(outcome=Outcome.FAILED, reason=reason)
        record = SendRecord(
            request=input.request(),
            result=result,
            recipe_name=rendered.recipe_name,
            missing=rendered.email.missing if rendered.email else [],
        )
        # The activity log must get it, however long the database is away.
        await self._local(
            SendEmailActivities.record_send,
            record,
            "record the outcome",
            RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
            None,
        )
        workflow.set_current_details(f"**Outcome:** {result.outcome.value} {result.reason}".strip())
        return result

    async def _render_and_send(self, input: SendEmailInput) -> tuple[RenderResult, SendResult]:
        deadline = workflow.now() + SEND_DEADLINE
        rendered = await self._local(
            SendEmailActivities.render_email, input.request(), "render the email", SEND_RETRY, SEND_DEADLINE
        )
        if rendered.email is None:
            return rendered, SendResult(outcome=rendered.outcome, reason=rendered.reason)
        sent = await workflow.execute_activity_method(
            SendEmailActivities.send_email,
            SendState(request=input.request(), email=rendered.email),
            start_to_close_timeout=input.send_timeout,
            schedule_to_close_timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
            retry_policy=SEND_RETRY,
            summary="send the email (once: ledger, internetMessageId, Sent Items)",
        )
        name = rendered.recipe_name
        if sent.state == "unknown":
            return rendered, SendResult(outcome=Outcome.FAILED, reason=f"recipe {name!r}: {sent.reason}")
        reason = f"recipe {name!r}: {sent.state}" + (f" ({sent.reason})" if sent.reason else "")
        return rendered, SendResult(outcome=Outcome.PROCESSED, reason=reason)

    async def _local(
        self,
        activity: Callable[[SendEmailActivities, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
        retry: RetryPolicy,
        deadline: timedelta | None,
    ) -> ResultT:
        result: ResultT = await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=_LOCAL_TIMEOUT,
            schedule_to_close_timeout=deadline,
            retry_policy=retry,
            summary=summary,
        )
        return result
