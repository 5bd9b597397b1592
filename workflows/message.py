"""MessageWorkflow: one per notified message, a child of its connection's workflow, id
`message/<connection id>/<immutable message id>`.

The id makes Graph's duplicate notifications (and its created+updated pairs) collapse into one run;
the item step's ledger makes a retry, a crash or a replay never create a second item. Each step is an
activity of its own (activities/message_steps.py), so the history names each one and a retry repeats
only the step that failed: the folder first and alone (parentFolderId only), then for an allowed folder
the fields the recipes need, the match, one item per matched recipe; the outcome is logged last, once.

The steps are local activities: a message's steps then cost one workflow task and a marker each
instead of three events and a task round trip per step (bench/README.md has the figures). The email's
fields pass between the steps in the markers, encrypted by the payload codec.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from workflows.ids import message_workflow_id

with workflow.unsafe.imports_passed_through():
    from activities.message_legacy import LegacyMessageActivities
    from activities.message_steps import MessageSteps
    from payloads.connection import GRANT_REVOKED
    from payloads.messages import (
        RECIPE_BROKEN,
        ItemRequest,
        MatchRequest,
        MessageInput,
        MessageResult,
        Outcome,
        OutcomeRecord,
    )

__all__ = ["MessageWorkflow", "message_workflow_id"]

# Workflows started before the steps were separate run one `process_message` activity (their histories
# replay that way); new ones run the steps: those the connection workflow starts say so in their input
# (MessageInput.run_steps), any other new one records this patch.
STEPS_PATCH = "message-steps-v1"

# Outages are waited out (Retry-After honoured through next_retry_delay); after a day the message is
# recorded as failed, with the reason, for a person to see.
MESSAGE_DEADLINE = timedelta(days=1)
_NON_RETRYABLE = [GRANT_REVOKED, RECIPE_BROKEN]
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=_NON_RETRYABLE,
)
_STEP_TIMEOUT = timedelta(seconds=60)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


def step_failure(err: FailureError) -> tuple[str, str]:
    """(error type, message) of a failed step. A local activity's failure reaches the workflow as the
    activity's own ApplicationError (measured on temporalio 1.35), a regular one's wrapped in an
    ActivityError: both are read here. Activities' messages never hold a secret or email content."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError):
        return cause.type or "", cause.message[:200]
    return type(cause).__name__, str(cause or err)[:200]


@workflow.defn(name="MessageWorkflow", sandboxed=False)
class MessageWorkflow:
    def __init__(self) -> None:
        self._deadline = workflow.now() + MESSAGE_DEADLINE

    @workflow.run
    async def run(self, input: MessageInput) -> MessageResult:
        if not (input.run_steps or workflow.patched(STEPS_PATCH)):
            return await self._single_step(input)
        try:
            result = await self._steps(input)
        except FailureError as err:
            _kind, reason = step_failure(err)
            workflow.logger.warning("message failed: %s", reason)
            result = MessageResult(outcome=Outcome.FAILED, reason=reason)
        await self._step(
            MessageSteps.record_outcome,
            OutcomeRecord(connection_id=input.connection_id, message_id=input.message_id, result=result),
            "record the outcome",
            # The activity log must get it, however long the database is away.
            retry=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
            deadline=False,
        )
        workflow.set_current_details(f"**Outcome:** {result.outcome.value} {result.reason}".strip())
        return result

    async def _steps(self, input: MessageInput) -> MessageResult:
        folder = await self._step(MessageSteps.check_folder, input, "check the folder (parentFolderId only)")
        if not folder.allowed:
            return MessageResult(outcome=Outcome.SKIPPED, reason=folder.reason)
        fetched = await self._step(MessageSteps.fetch_message, input, "fetch the fields the recipes need")
        if fetched.email is None:
            return MessageResult(outcome=Outcome.SKIPPED, reason=fetched.reason)
        request = MatchRequest(
            connection_id=input.connection_id, email=fetched.email, recipe_ids=fetched.recipe_ids
        )
        match = await self._step(MessageSteps.filter_message, request, "match the recipes")
        if not match.matched:
            return MessageResult(outcome=Outcome.SKIPPED, reason=match.reason())
        created = 0
        broken: list[str] = []
        # Each recipe on its own: one whose board no longer fits fails alone, the others still run.
        for recipe_id in match.matched:
            item_request = ItemRequest(
                connection_id=input.connection_id,
                message_id=input.message_id,
                recipe_id=recipe_id,
                email=fetched.email,
            )
            try:
                item = await self._step(MessageSteps.create_item, item_request, "create the item")
            except FailureError as err:
                kind, reason = step_failure(err)
                if kind != RECIPE_BROKEN:
                    raise
                broken.append(reason)
                continue
            created += int(item.created)
        if broken:
            return MessageResult(
                outcome=Outcome.FAILED, reason="; ".join(broken)[:200], items_created=created
            )
        return MessageResult(
            outcome=Outcome.PROCESSED, reason=f"{len(match.matched)} recipe(s) matched", items_created=created
        )

    async def _step(
        self,
        activity: Callable[[MessageSteps, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
        retry: RetryPolicy = _RETRY,
        deadline: bool = True,
    ) -> ResultT:
        """One step as a local activity, typed by the activity method it names."""
        left = max(self._deadline - workflow.now(), timedelta(seconds=1)) if deadline else None
        result: ResultT = await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=_STEP_TIMEOUT,
            schedule_to_close_timeout=left,
            retry_policy=retry,
            summary=summary,
        )
        return result

    async def _single_step(self, input: MessageInput) -> MessageResult:
        """The release before the steps: one activity for all of them (kept for replays)."""
        try:
            result = await workflow.execute_local_activity_method(
                LegacyMessageActivities.process_message,
                input,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=MESSAGE_DEADLINE,
                retry_policy=_RETRY,
                summary="check folder, fetch, match, write items",
            )
        except FailureError as err:
            _kind, reason = step_failure(err)
            workflow.logger.warning("message failed: %s", reason)
            failed = MessageResult(outcome=Outcome.FAILED, reason=reason)
            await workflow.execute_local_activity_method(
                LegacyMessageActivities.record_failure,
                args=[input, failed],
                start_to_close_timeout=timedelta(seconds=30),
            )
            return failed
        workflow.set_current_details(f"**Outcome:** {result.outcome.value} {result.reason}".strip())
        return result
