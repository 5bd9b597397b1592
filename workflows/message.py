"""MessageWorkflow: one per notified message, id `message/<connection id>/<immutable message id>`.

The id makes Graph's duplicate notifications (and its created+updated pairs) collapse into one run;
the activity's ledger makes a retry, a crash or a replay never create a second item. The work is one
local activity: it checks the folder first and alone (parentFolderId only), and only for an allowed
folder fetches the fields the recipes need, matches them and writes the items. Email content stays
inside that activity; the workflow sees the outcome.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.messages import MessageInput, MessageResult, Outcome

_NON_RETRYABLE = ["GrantRevoked", "MessageRejected"]


def message_workflow_id(connection_id: str, message_id: str) -> str:
    return f"message/{connection_id}/{message_id}"


@workflow.defn(name="MessageWorkflow", sandboxed=False)
class MessageWorkflow:
    @workflow.run
    async def run(self, input: MessageInput) -> MessageResult:
        try:
            result: MessageResult = await workflow.execute_local_activity(
                "process_message",
                input,
                result_type=MessageResult,
                start_to_close_timeout=timedelta(seconds=60),
                # Outages are waited out (Retry-After honoured by the activity's next_retry_delay);
                # after a day the message is recorded as failed, with the reason, for a person to see.
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(minutes=5),
                    non_retryable_error_types=_NON_RETRYABLE,
                ),
                summary="check folder, fetch, match, write items",
            )
        except ActivityError as err:
            reason = str(err.cause or err)[:200]
            workflow.logger.warning("message failed: %s", reason)
            failed = MessageResult(outcome=Outcome.FAILED, reason=reason)
            await workflow.execute_local_activity(
                "record_failure",
                args=[input, failed],
                start_to_close_timeout=timedelta(seconds=30),
            )
            return failed
        workflow.set_current_details(f"**Outcome:** {result.outcome.value} {result.reason}".strip())
        return result
