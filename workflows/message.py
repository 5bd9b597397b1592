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
    from activities.message_writes import MessageWrites
    from payloads.connection import GRANT_REVOKED
    from payloads.email import EmailFacts
    from payloads.messages import (
        RECIPE_BROKEN,
        AttachRequest,
        ItemRequest,
        MatchRequest,
        MatchResult,
        MessageInput,
        MessageResult,
        Outcome,
        OutcomeRecord,
        RecipeOutcome,
    )
    from payloads.redo import DEAD_GRANT_PREFIX

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
OwnerT = TypeVar("OwnerT")
ResultT = TypeVar("ResultT")


def summarise(outcomes: list[RecipeOutcome], missed: list[RecipeOutcome]) -> MessageResult:
    """The message's outcome from its recipes': failed when any matched recipe failed (the others' items
    stand), else processed. The reason names each matched recipe and what it did."""
    failed = [o for o in outcomes if o.result == "failed"]
    made = sum(1 for o in outcomes if o.result == "item" and o.reason == "made")
    if failed:
        return MessageResult(
            outcome=Outcome.FAILED,
            reason="; ".join(o.reason for o in failed)[:200],
            items_created=made,
            recipes=outcomes + missed,
        )
    said = "; ".join(f"{o.recipe!r}: {o.result}" for o in outcomes)
    return MessageResult(
        outcome=Outcome.PROCESSED,
        reason=f"{len(outcomes)} recipe(s) matched ({said})"[:200],
        items_created=made,
        recipes=outcomes + missed,
    )


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
            kind, reason = step_failure(err)
            if kind == GRANT_REVOKED:
                # Named so that catch-up after a reconnect finds and redoes it (workflows/connection_parts/
                # redo.py). Only the activity's argument changes: replays compare no arguments.
                reason = (DEAD_GRANT_PREFIX + reason)[:200]
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
            connection_id=input.connection_id,
            email=fetched.email,
            recipe_ids=fetched.recipe_ids,
            folder_id=folder.folder_id,
        )
        match = await self._step(MessageSteps.filter_message, request, "match the recipes")
        missed = [
            RecipeOutcome(recipe_id=m.recipe_id, recipe=m.recipe_name, result="missed", reason=m.condition)
            for m in match.missed
        ]
        if not match.matched:
            return MessageResult(outcome=Outcome.SKIPPED, reason=match.reason(), recipes=missed)
        outcomes = [await self._write(input, fetched.email, recipe_id, match) for recipe_id in match.matched]
        return summarise(outcomes, missed)

    async def _write(
        self, input: MessageInput, email: EmailFacts, recipe_id: str, match: MatchResult
    ) -> RecipeOutcome:
        """One matched recipe's write, on its own: a recipe whose board no longer fits fails alone and the
        others still run; any other failure (retries exhausted) fails the message."""
        request = ItemRequest(
            connection_id=input.connection_id, message_id=input.message_id, recipe_id=recipe_id, email=email
        )
        try:
            if recipe_id in match.updates:
                item = await self._step(MessageWrites.create_update, request, "create the update")
            else:
                item = await self._step(
                    MessageWrites.create_item, request, "create the item (or the reply's update)"
                )
            if item.attach:
                attach = AttachRequest(
                    connection_id=input.connection_id,
                    message_id=input.message_id,
                    recipe_id=recipe_id,
                    item_id=item.item_id,
                )
                await self._step(MessageWrites.attach_files, attach, "put the attachments on the item")
        except FailureError as err:
            kind, reason = step_failure(err)
            if kind != RECIPE_BROKEN:
                raise
            return RecipeOutcome(recipe_id=recipe_id, result="failed", reason=reason)
        if not item.item_id:
            return RecipeOutcome(
                recipe_id=recipe_id,
                recipe=item.recipe_name,
                result="no item",
                reason=item.reason,
                missing=item.missing,
            )
        return RecipeOutcome(
            recipe_id=recipe_id,
            recipe=item.recipe_name,
            result=item.kind,
            reason="made" if item.created else "made by an earlier attempt",
            missing=item.missing,
        )

    async def _step(
        self,
        activity: Callable[[OwnerT, ArgT], Awaitable[ResultT]],
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
