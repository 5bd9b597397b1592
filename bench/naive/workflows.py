"""The naive design: one child workflow per notification (created and updated both), one signal per
notification, the parent starting children one at a time and awaiting each start; the child runs one
regular activity per step. No dedup, no batching, no local activities."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from bench.naive.models import FetchedMessage, ItemsToCreate, NaiveOutcome, NaiveStep

_STEP = timedelta(seconds=60)


@workflow.defn(name="NaiveMessageWorkflow")
class NaiveMessageWorkflow:
    @workflow.run
    async def run(self, step: NaiveStep) -> str:
        in_inbox: bool = await workflow.execute_activity(
            "naive_check_folder", step, result_type=bool, start_to_close_timeout=_STEP
        )
        if not in_inbox:
            outcome = NaiveOutcome(step=step, outcome="skipped", reason="folder")
        else:
            fetched = await workflow.execute_activity(
                "naive_fetch_message", step, result_type=FetchedMessage, start_to_close_timeout=_STEP
            )
            work = await workflow.execute_activity(
                "naive_match", fetched, result_type=ItemsToCreate, start_to_close_timeout=_STEP
            )
            created: int = await workflow.execute_activity(
                "naive_create_items", work, result_type=int, start_to_close_timeout=_STEP
            )
            outcome = NaiveOutcome(
                step=step,
                outcome="processed" if work.items else "skipped",
                reason=f"{len(work.items)} recipe(s) matched",
                items_created=created,
            )
        await workflow.execute_activity("naive_record_outcome", outcome, start_to_close_timeout=_STEP)
        return outcome.outcome


@workflow.defn(name="NaiveConnectionWorkflow")
class NaiveConnectionWorkflow:
    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._count = 0

    @workflow.signal
    def notified(self, message_id: str) -> None:
        self._queue.append(message_id)

    @workflow.run
    async def run(self, connection_id: str) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._queue))
            message_id = self._queue.popleft()
            self._count += 1
            # Every notification gets its own child: the id carries a counter, so nothing is deduplicated.
            await workflow.start_child_workflow(
                NaiveMessageWorkflow.run,
                NaiveStep(connection_id=connection_id, message_id=message_id),
                id=f"naive/{connection_id}/{self._count}",
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
