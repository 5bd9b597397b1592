"""Catch-up redoes what the delta cannot find: a message that failed because the grant was dead is made
after the user reconnects, and a message workflow terminated before it recorded an outcome is started
again by the next catch-up.

On the dev server (its visibility lists the terminated workflow), with the simulated Microsoft of
test_connection_time_skipping.py, stand-in message steps that record outcomes in a real SQLite
database, and the real `redo_candidates` activity reading that database and Temporal's visibility.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import activitylog
from activities.redo_candidates import RedoCandidateActivities
from payloads.connection import ConnectionInput, ConnectionStatus, ConnectionView, LifecycleEvent
from payloads.messages import FolderCheck, MessageInput, NotifiedMessages, OutcomeRecord
from tests.recipes.support import add_connection
from tests.replay.record import RECORD, write_run
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.workflows.test_connection_children import wait_for
from tests.workflows.test_connection_time_skipping import SimulatedMicrosoft, status
from tests.workflows.test_message_workflow import Steps
from workflows.connection import ConnectionWorkflow
from workflows.ids import message_workflow_id
from workflows.message import MessageWorkflow


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@dataclass
class RecordingSteps(Steps):
    """Message steps whose outcomes go to the real activity log; the folder check may be held."""

    engine: Engine | None = None
    hold: asyncio.Event | None = None

    @activity.defn(name="check_folder")
    async def check_folder(self, message: MessageInput) -> FolderCheck:
        self.calls["check_folder"] += 1
        if self.hold is not None and self.calls["check_folder"] == 1:
            # Only the first run is held (until the test ends): a workflow task in flight when its
            # workflow is terminated still runs its local activities, and would record an outcome.
            await self.hold.wait()
        return FolderCheck(allowed=True)

    @activity.defn(name="record_outcome")
    async def record_outcome(self, record: OutcomeRecord) -> None:
        self.calls["record_outcome"] += 1
        self.recorded.append(record.result)
        assert self.engine is not None
        r = record.result
        await asyncio.to_thread(
            activitylog.record_outcome,
            self.engine,
            record.connection_id,
            record.message_id,
            r.outcome.value,
            r.reason,
            r.items_created,
        )


@dataclass
class Setup:
    env: WorkflowEnvironment
    engine: Engine
    steps: RecordingSteps
    ms: SimulatedMicrosoft = field(default_factory=SimulatedMicrosoft)
    queue: str = field(default_factory=lambda: f"q-{uuid.uuid4()}")

    def worker(self) -> Worker:
        simulated = [a for a in self.ms.activities() if getattr(a, "__name__", "") != "redo_candidates"]
        activities: list[Callable[..., Awaitable[Any]]] = [
            *simulated,
            *self.steps.all(),
            *RedoCandidateActivities(self.engine).all(),
        ]
        return Worker(
            self.env.client,
            task_queue=self.queue,
            workflows=[ConnectionWorkflow, MessageWorkflow],
            activities=activities,
        )

    async def start(self) -> tuple[str, WorkflowHandle[ConnectionWorkflow, ConnectionView]]:
        user_id, _token = add_user(self.engine, account_name=f"a-{uuid.uuid4().hex[:6]}")
        connection_id = add_connection(self.engine, user_id)
        handle = await self.env.client.start_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(connection_id=connection_id, owner_id=str(user_id), mailbox="ada@example.test"),
            id=f"connection/{connection_id}",
            task_queue=self.queue,
        )
        await self.until_active(handle)
        return connection_id, handle

    async def until_active(self, handle: WorkflowHandle[ConnectionWorkflow, ConnectionView]) -> None:
        async def active() -> bool:
            return (await status(handle)).status is ConnectionStatus.ACTIVE

        await wait_for("the connection to be active", active, self.env)

    def outcome(self, connection_id: str, message_id: str) -> str | None:
        from activitylog.failures import outcome_of

        return outcome_of(self.engine, uuid.UUID(connection_id), message_id)


async def test_a_message_failed_for_a_dead_grant_is_made_after_reconnect(
    temporal_env: WorkflowEnvironment, engine: Engine
) -> None:
    steps = RecordingSteps(engine=engine, fetch_revoked=True)
    setup = Setup(temporal_env, engine, steps)
    async with setup.worker():
        connection_id, handle = await setup.start()
        await handle.execute_update(
            ConnectionWorkflow.take_notified, NotifiedMessages(message_ids=["AAMk-1"])
        )

        async def failed() -> bool:
            return setup.outcome(connection_id, "AAMk-1") == "failed"

        await wait_for("the message to fail for the dead grant", failed, temporal_env)
        assert steps.recorded[0].reason.startswith("grant revoked: "), steps.recorded
        assert steps.calls["create_item:r1"] == 0

        steps.fetch_revoked = False  # the user consented again
        await handle.signal(ConnectionWorkflow.reconnected)

        async def processed() -> bool:
            return setup.outcome(connection_id, "AAMk-1") == "processed"

        await wait_for("the message to be made after the reconnect", processed, temporal_env)
        assert steps.calls["create_item:r1"] == 1
        # A later catch-up finds nothing more to redo.
        await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.MISSED)

        async def caught_up_twice() -> bool:
            return len(setup.ms.catch_ups) >= 3

        await wait_for("another catch-up", caught_up_twice, temporal_env)
        await asyncio.sleep(0.5)
        assert steps.calls["create_item:r1"] == 1
        if RECORD:
            await write_run(temporal_env.client, handle.id, None, "connection-redo-after-reconnect")
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()


async def test_a_terminated_message_workflow_is_redone_by_the_next_catch_up(
    temporal_env: WorkflowEnvironment, engine: Engine
) -> None:
    steps = RecordingSteps(engine=engine, hold=asyncio.Event())
    setup = Setup(temporal_env, engine, steps)
    async with setup.worker():
        try:
            connection_id, handle = await setup.start()
            await handle.execute_update(
                ConnectionWorkflow.take_notified, NotifiedMessages(message_ids=["AAMk-2"])
            )

            async def held() -> bool:
                return steps.calls["check_folder"] >= 1

            await wait_for("the message's first step", held, temporal_env)
            child = temporal_env.client.get_workflow_handle(message_workflow_id(connection_id, "AAMk-2"))
            await child.terminate(reason="an operator's mistake")
            query = f"ConnectionId = '{connection_id}' AND ExecutionStatus = 'Terminated'"

            async def listed() -> bool:
                return [e async for e in temporal_env.client.list_workflows(query)] != []

            await wait_for("visibility to list the terminated workflow", listed, temporal_env)
            assert (await child.describe()).status is WorkflowExecutionStatus.TERMINATED
            await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.MISSED)

            async def processed() -> bool:
                return setup.outcome(connection_id, "AAMk-2") == "processed"

            await wait_for("the message to be redone", processed, temporal_env)
            # Its redo (message/<connection>/AAMk-2/redo/catch-up-<n>) ran every step; one outcome.
            runs = [
                e.id async for e in temporal_env.client.list_workflows(f"ConnectionId = '{connection_id}'")
            ]
            assert steps.calls["record_outcome"] == 1 and steps.calls["check_folder"] == 2, (
                steps.calls,
                runs,
            )
            await handle.signal(ConnectionWorkflow.disconnect)
            await handle.result()
        finally:
            assert steps.hold is not None
            steps.hold.set()
