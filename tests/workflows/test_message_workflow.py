"""MessageWorkflow's steps and their retry boundaries, with the steps played by stand-ins that count calls.

The real steps run against the emulator and the board store in tests/e2e/test_messages*.py; here the
point is the orchestration: a failing step is retried alone, a revoked grant or a broken recipe is not
retried, each recipe runs on its own, content is never requested for mail outside the allowed folders,
and the outcome is recorded once, last.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from payloads.connection import GRANT_REVOKED
from payloads.email import EmailFacts
from payloads.messages import (
    RECIPE_BROKEN,
    AttachRequest,
    AttachResult,
    FetchedMessage,
    FolderCheck,
    ItemRequest,
    ItemResult,
    MatchRequest,
    MatchResult,
    MessageInput,
    MessageResult,
    Outcome,
    OutcomeRecord,
    RecipeMiss,
    RecipeOutcome,
)
from tests.replay.record import RECORD, write_run
from workflows.message import MessageWorkflow


@dataclass
class Steps:
    """Stand-ins for activities/message_steps.py, under the same activity names."""

    folder_allowed: bool = True
    matched: list[str] = field(default_factory=lambda: ["r1"])
    # Per recipe: how many attempts fail with a retryable error before the item is made.
    item_outages: dict[str, int] = field(default_factory=dict)
    broken_recipes: set[str] = field(default_factory=set)
    # Matched recipes whose action is create_update; those answering with an update as replies.
    update_recipes: list[str] = field(default_factory=list)
    replies: set[str] = field(default_factory=set)
    attaching: set[str] = field(default_factory=set)
    missed: list[RecipeMiss] = field(default_factory=list)
    fetch_revoked: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    recorded: list[MessageResult] = field(default_factory=list)

    @activity.defn(name="check_folder")
    async def check_folder(self, message: MessageInput) -> FolderCheck:
        self.calls["check_folder"] += 1
        return FolderCheck(allowed=self.folder_allowed, reason="" if self.folder_allowed else "folder")

    @activity.defn(name="fetch_message")
    async def fetch_message(self, message: MessageInput) -> FetchedMessage:
        self.calls["fetch_message"] += 1
        if self.fetch_revoked:
            raise ApplicationError("consent revoked", type=GRANT_REVOKED, non_retryable=True)
        email = EmailFacts(message_id=message.message_id, subject="Need help")
        return FetchedMessage(email=email, recipe_ids=["r1", "r2"])

    @activity.defn(name="filter_message")
    async def filter_message(self, request: MatchRequest) -> MatchResult:
        self.calls["filter_message"] += 1
        return MatchResult(matched=self.matched, updates=self.update_recipes, missed=self.missed)

    @activity.defn(name="create_item")
    async def create_item(self, request: ItemRequest) -> ItemResult:
        self.calls[f"create_item:{request.recipe_id}"] += 1
        if request.recipe_id in self.broken_recipes:
            raise ApplicationError(
                f"recipe {request.recipe_id!r}: group 'New' not found", type=RECIPE_BROKEN, non_retryable=True
            )
        if self.item_outages.get(request.recipe_id, 0) > 0:
            self.item_outages[request.recipe_id] -= 1
            raise ApplicationError("board store unavailable", type="OperationalError")
        kind = "update" if request.recipe_id in self.replies else "item"
        return ItemResult(
            item_id=f"item-{request.recipe_id}",
            created=True,
            kind=kind,
            recipe_name=f"Recipe {request.recipe_id}",
            attach=request.recipe_id in self.attaching,
        )

    @activity.defn(name="create_update")
    async def create_update(self, request: ItemRequest) -> ItemResult:
        self.calls[f"create_update:{request.recipe_id}"] += 1
        return ItemResult(item_id="", created=False, kind="update", reason="no item whose 'Ticket' matches")

    @activity.defn(name="attach_files")
    async def attach_files(self, request: AttachRequest) -> AttachResult:
        self.calls[f"attach_files:{request.recipe_id}:{request.item_id}"] += 1
        return AttachResult(added=2)

    @activity.defn(name="record_outcome")
    async def record_outcome(self, record: OutcomeRecord) -> None:
        self.calls["record_outcome"] += 1
        self.recorded.append(record.result)

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.check_folder,
            self.fetch_message,
            self.filter_message,
            self.create_item,
            self.create_update,
            self.attach_files,
            self.record_outcome,
        ]


async def run_message(env: WorkflowEnvironment, steps: Steps, record_as: str | None = None) -> MessageResult:
    """Runs one message workflow; with RECORD_HISTORIES=1 and `record_as`, its history is kept for the
    replay tests (tests/replay)."""
    queue = f"message-{uuid.uuid4()}"
    workflow_id = f"message/{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[MessageWorkflow], activities=steps.all()):
        result: MessageResult = await env.client.execute_workflow(
            MessageWorkflow.run,
            MessageInput(connection_id=str(uuid.uuid4()), message_id="AAMk-1", run_steps=True),
            id=workflow_id,
            task_queue=queue,
        )
    if RECORD and record_as:
        await write_run(env.client, workflow_id, None, record_as)
    return result


async def test_a_board_outage_retries_only_the_item_step(time_skipping_env: WorkflowEnvironment) -> None:
    steps = Steps(item_outages={"r1": 2})
    result = await run_message(time_skipping_env, steps)
    assert (result.outcome, result.items_created) == (Outcome.PROCESSED, 1)
    assert result.reason == "1 recipe(s) matched ('Recipe r1': item)"
    assert steps.calls == Counter(
        {"check_folder": 1, "fetch_message": 1, "filter_message": 1, "create_item:r1": 3, "record_outcome": 1}
    )


async def test_mail_outside_the_allowed_folders_is_never_fetched(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    steps = Steps(folder_allowed=False)
    result = await run_message(time_skipping_env, steps)
    assert (result.outcome, result.reason) == (Outcome.SKIPPED, "folder")
    assert steps.calls == Counter({"check_folder": 1, "record_outcome": 1})
    assert steps.recorded == [result]


async def test_a_broken_recipe_fails_alone_and_the_others_make_their_items(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    steps = Steps(matched=["r1", "r2"], broken_recipes={"r1"})
    result = await run_message(time_skipping_env, steps)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "recipe 'r1': group 'New' not found"
    assert result.items_created == 1
    # Not retried: retrying cannot mend a board that lost its group.
    assert steps.calls["create_item:r1"] == 1
    assert steps.calls["create_item:r2"] == 1
    assert steps.recorded == [result]


async def test_a_revoked_grant_is_recorded_as_failed_without_retrying(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    steps = Steps(fetch_revoked=True)
    result = await run_message(time_skipping_env, steps)
    # Named as a dead grant: catch-up after a reconnect redoes these (workflows/connection_parts/redo.py).
    assert (result.outcome, result.reason) == (Outcome.FAILED, "grant revoked: consent revoked")
    assert steps.calls == Counter({"check_folder": 1, "fetch_message": 1, "record_outcome": 1})


async def test_each_recipe_gets_its_own_step_and_the_log_says_what_each_did(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """An item, a reply that became an update, a create_update recipe that found no item, an item with
    attachments, and a recipe that missed: one writing step each, and each recipe's result recorded."""
    steps = Steps(
        matched=["r1", "r2", "r3", "r4"],
        replies={"r2"},
        update_recipes=["r3"],
        attaching={"r4"},
        missed=[RecipeMiss(recipe_name="Other", recipe_id="r5", condition="from")],
    )
    result = await run_message(time_skipping_env, steps, record_as="message-writes-each-kind")

    assert steps.calls == Counter(
        {
            "check_folder": 1,
            "fetch_message": 1,
            "filter_message": 1,
            "create_item:r1": 1,
            "create_item:r2": 1,
            "create_update:r3": 1,
            "create_item:r4": 1,
            "attach_files:r4:item-r4": 1,
            "record_outcome": 1,
        }
    )
    assert result.outcome is Outcome.PROCESSED
    assert result.items_created == 2
    assert [(r.recipe_id, r.result) for r in result.recipes] == [
        ("r1", "item"),
        ("r2", "update"),
        ("r3", "no item"),
        ("r4", "item"),
        ("r5", "missed"),
    ]
    assert result.recipes[2].reason == "no item whose 'Ticket' matches"
    assert result.recipes[4] == RecipeOutcome(recipe_id="r5", recipe="Other", result="missed", reason="from")
    assert steps.recorded == [result]
