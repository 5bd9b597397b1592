"""The single-step message activity of message workflows started before the steps were separate.

Such a workflow (started by an older release, still retrying or replayed after a worker restart) calls
`process_message` and, on failure, `record_failure`: both stay registered, and do what the separate
steps do (activities/message_steps.py, message_writes.py), in the same order, in one call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.message_steps import MessageSteps
from activities.message_writes import MessageWrites
from payloads.messages import (
    RECIPE_BROKEN,
    ItemRequest,
    MatchRequest,
    MessageInput,
    MessageResult,
    Outcome,
    OutcomeRecord,
)


def _ids(message: MessageInput) -> dict[str, str]:
    return {"connection_id": message.connection_id, "message_id": message.message_id}


class LegacyMessageActivities:
    def __init__(self, steps: MessageSteps, writes: MessageWrites) -> None:
        self._steps = steps
        self._writes = writes

    @activity.defn(name="process_message")
    async def process_message(self, input: MessageInput) -> MessageResult:
        result = await self._process(input)
        await self._steps.record_outcome(OutcomeRecord(**_ids(input), result=result))
        return result

    async def _process(self, input: MessageInput) -> MessageResult:
        steps = self._steps
        folder = await steps.check_folder(input)
        if not folder.allowed:
            return MessageResult(outcome=Outcome.SKIPPED, reason=folder.reason)
        fetched = await steps.fetch_message(input)
        if fetched.email is None:
            return MessageResult(outcome=Outcome.SKIPPED, reason=fetched.reason)
        match = await steps.filter_message(
            MatchRequest(
                connection_id=input.connection_id, email=fetched.email, recipe_ids=fetched.recipe_ids
            )
        )
        if not match.matched:
            return MessageResult(outcome=Outcome.SKIPPED, reason=match.reason())
        created = 0
        for recipe_id in match.matched:
            try:
                request = ItemRequest(**_ids(input), recipe_id=recipe_id, email=fetched.email)
                write = self._writes.create_update if recipe_id in match.updates else self._writes.create_item
                item = await write(request)
            except ApplicationError as err:
                if err.type != RECIPE_BROKEN:
                    raise
                return MessageResult(outcome=Outcome.FAILED, reason=err.message[:200], items_created=created)
            created += int(item.created)
        return MessageResult(
            outcome=Outcome.PROCESSED, reason=f"{len(match.matched)} recipe(s) matched", items_created=created
        )

    @activity.defn(name="record_failure")
    async def record_failure(self, input: MessageInput, result: MessageResult) -> None:
        await self._steps.record_outcome(OutcomeRecord(**_ids(input), result=result))

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.process_message, self.record_failure]
