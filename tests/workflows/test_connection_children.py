"""The connection workflow's message fan-out: children started in batches, duplicates counted and dropped,
and a continue-as-new while children are still running neither cancels nor repeats any of them.

Microsoft is the simulated one of test_connection_time_skipping.py; the message steps are stand-ins
that hold every message in its first step until the test lets them go. On the dev server, not the
time-skipping one: that one (temporal-test-server 1.40) stops skipping time for good after a parent
continues as new with child starts pending, and nothing here needs skipped time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from payloads.connection import ConnectionInput, ConnectionStatus, ConnectionTiming, LifecycleEvent
from payloads.messages import CatchUpRequest, CatchUpResult, FolderCheck, MessageInput, NotifiedMessages
from tests.replay.record import RECORD, write_run
from tests.workflows.test_connection_time_skipping import SimulatedMicrosoft, status
from tests.workflows.test_connection_timing import current_details
from tests.workflows.test_message_workflow import Steps
from workflows.connection import ConnectionWorkflow
from workflows.message import MessageWorkflow, message_workflow_id

TIMING = ConnectionTiming(child_batch=5, children_per_run=10, recent_messages_kept=3)


@dataclass
class HeldSteps(Steps):
    """Message steps whose first step waits for `release`: the children stay in flight meanwhile."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    folder_checks: Counter[str] = field(default_factory=Counter)

    @activity.defn(name="check_folder")
    async def check_folder(self, message: MessageInput) -> FolderCheck:
        self.folder_checks[message.message_id] += 1
        await self.release.wait()
        return FolderCheck(allowed=True)


def fan_out_worker(env: WorkflowEnvironment, queue: str, ms: SimulatedMicrosoft, steps: HeldSteps) -> Worker:
    """The connection and message workflows with simulated Microsoft and held message steps."""
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[ConnectionWorkflow, MessageWorkflow],
        activities=[*ms.activities(), *steps.all()],
    )


async def wait_for(predicate_description: str, predicate: object, env: WorkflowEnvironment) -> None:
    assert callable(predicate)
    for _ in range(300):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {predicate_description}")


async def test_continue_as_new_with_children_in_flight_runs_each_message_once(
    temporal_env: WorkflowEnvironment,
) -> None:
    env = temporal_env
    ms = SimulatedMicrosoft()
    steps = HeldSteps()
    queue = f"q-{uuid.uuid4()}"
    connection_id = str(uuid.uuid4())
    async with fan_out_worker(env, queue, ms, steps):
        try:
            await fan_out_across_runs(env, steps, queue, connection_id)
        finally:
            steps.release.set()  # never leave held activities behind for the tests after this one


async def fan_out_across_runs(
    env: WorkflowEnvironment, steps: HeldSteps, queue: str, connection_id: str
) -> None:
    """25 messages, each notified twice, over runs of 10 children each, every child held until all run."""
    handle = await env.client.start_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(
            connection_id=connection_id, owner_id="u1", mailbox="ada@example.test", timing=TIMING
        ),
        id=f"connection/{connection_id}",
        task_queue=queue,
    )

    async def active() -> bool:
        return (await status(handle)).status is ConnectionStatus.ACTIVE

    await wait_for("the connection to be active", active, env)
    first_run = handle.first_execution_run_id
    ids = [f"AAMk-{n:02d}" for n in range(25)]
    # Graph's created+updated pairs: every id twice.
    await handle.signal(ConnectionWorkflow.notified, NotifiedMessages(message_ids=ids + ids))

    async def all_held() -> bool:
        return len(steps.folder_checks) == len(ids)

    # 25 children over three runs (10 per run): each run hands over with its children still held.
    await wait_for("every message's child to be running", all_held, env)

    async def three_runs() -> bool:
        runs = [e.run_id async for e in env.client.list_workflows(f"WorkflowId = '{handle.id}'")]
        return first_run in runs and len(runs) >= 3

    await wait_for("the first run to have continued as new twice", three_runs, env)
    child = await env.client.get_workflow_handle(message_workflow_id(connection_id, ids[0])).describe()
    assert child.raw_description.workflow_execution_info.parent_execution.run_id == first_run

    steps.release.set()

    async def all_recorded() -> bool:
        return len(steps.recorded) == len(ids)

    await wait_for("every message's outcome", all_recorded, env)
    assert set(steps.folder_checks.values()) == {1}, steps.folder_checks
    assert steps.calls["record_outcome"] == len(ids)

    # Repeats of messages long done (beyond the recent-ids window) are refused by their child ids.
    await handle.signal(ConnectionWorkflow.notified, NotifiedMessages(message_ids=ids[:5]))

    async def duplicates_counted() -> bool:
        return "5 duplicates dropped" in await current_details(env, handle.id)

    await wait_for("the repeats to be counted as duplicates", duplicates_counted, env)
    assert set(steps.folder_checks.values()) == {1}
    if RECORD:
        await write_run(env.client, handle.id, first_run, "messages-children-continued-run1")
        await write_run(env.client, message_workflow_id(connection_id, ids[0]), None, "messages-child-steps")
    await handle.signal(ConnectionWorkflow.disconnect)
    await handle.result()
    if RECORD:
        await write_run(env.client, handle.id, None, "messages-children-continued-last")


@dataclass
class PagedCatchUp(SimulatedMicrosoft):
    """A catch-up round of two calls: a first page that fills more than half the waiting cap, then a
    small one (a page larger than the room left would overflow, and waits for a later round)."""

    pages: tuple[int, ...] = (20, 5)
    found: list[str] = field(default_factory=list)

    @activity.defn(name="catch_up_messages")
    async def catch_up_messages(self, request: CatchUpRequest) -> CatchUpResult:
        self.catch_ups.append(self.now())
        call = len(self.catch_ups)
        if call > len(self.pages):
            return CatchUpResult(message_ids=[], complete=True)  # later rounds find nothing new
        page = [f"AAMk-catch-up-{call:02d}-{n:02d}" for n in range(self.pages[call - 1])]
        self.found += page
        return CatchUpResult(message_ids=page, complete=call == len(self.pages))


async def test_a_catch_up_waiting_for_room_while_the_run_has_its_maximum_running_waits(
    temporal_env: WorkflowEnvironment,
) -> None:
    """A catch-up asked for while the waiting ids fill half the cap, and the run has its maximum
    running: the loop waits for a child to close. (It once spun in one workflow task: the deadlock
    detector failed it and the connection stopped.)"""
    env = temporal_env
    ms = PagedCatchUp()
    steps = HeldSteps()
    queue = f"q-{uuid.uuid4()}"
    # The first page's 20 ids (21 bytes each, as counted) fill more than half the waiting cap even
    # once 3 of them have started, the most that may run at once.
    timing = ConnectionTiming(
        child_batch=5, children_per_run=100, children_in_flight=3, pending_bytes_max=600
    )
    handle = await env.client.start_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(connection_id=str(uuid.uuid4()), owner_id="u1", mailbox="a@x.test", timing=timing),
        id=f"connection/{uuid.uuid4()}",
        task_queue=queue,
    )
    async with fan_out_worker(env, queue, ms, steps):
        try:

            async def active() -> bool:
                return (await status(handle)).status is ConnectionStatus.ACTIVE

            await wait_for("the connection to be active", active, env)
            # Graph says notifications were missed: a catch-up.
            await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.MISSED)

            async def three_held() -> bool:
                return len(steps.folder_checks) >= 3 and len(ms.catch_ups) >= 1

            await wait_for("a catch-up page waiting with the run at its maximum", three_held, env)
            await asyncio.sleep(1)  # would the loop spin, the deadlock detector fails its task by now
            assert (await status(handle)).status is ConnectionStatus.ACTIVE
            assert len(steps.folder_checks) == 3  # held at the maximum, the rest waiting
            steps.release.set()

            async def all_recorded() -> bool:
                return len(steps.recorded) == sum(ms.pages)

            await wait_for("every message the catch-up found", all_recorded, env)
            assert sorted(steps.folder_checks) == sorted(ms.found)
            assert set(steps.folder_checks.values()) == {1}
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            assert not failed, failed
        finally:
            steps.release.set()
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
