"""Redoing messages through the connection workflow's `redo_messages` update: a failed message gets a
new child named by the request id, the same request twice starts it once, and a request that does not
fit under the waiting-ids byte cap is refused (nothing written to the history).

Microsoft is the simulated one of test_connection_time_skipping.py; the message steps are stand-ins
(tests/workflows/test_message_workflow.py), on the dev server.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from payloads.connection import ConnectionInput, ConnectionStatus, ConnectionTiming, ConnectionView
from payloads.messages import MessageResult, NotifiedMessages, Outcome
from payloads.redo import RedoRequest
from tests.replay.record import RECORD, write_run
from tests.workflows.test_connection_children import wait_for
from tests.workflows.test_connection_time_skipping import SimulatedMicrosoft, status
from tests.workflows.test_message_workflow import Steps
from workflows.connection import ConnectionWorkflow
from workflows.ids import redo_workflow_id
from workflows.message import MessageWorkflow

TIMING = ConnectionTiming(child_batch=5, pending_bytes_max=2_000)


async def start_connection(
    env: WorkflowEnvironment, queue: str, connection_id: str
) -> WorkflowHandle[ConnectionWorkflow, ConnectionView]:
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
    return handle


async def test_a_failed_message_is_redone_once_per_request(temporal_env: WorkflowEnvironment) -> None:
    env = temporal_env
    ms = SimulatedMicrosoft()
    # The recipe's board lost its group: the message fails, with the reason.
    steps = Steps(broken_recipes={"r1"})
    queue = f"q-{uuid.uuid4()}"
    connection_id = str(uuid.uuid4())
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=[ConnectionWorkflow, MessageWorkflow],
        activities=[*ms.activities(), *steps.all()],
    )
    async with worker:
        handle = await start_connection(env, queue, connection_id)
        await handle.execute_update(
            ConnectionWorkflow.take_notified, NotifiedMessages(message_ids=["AAMk-1"])
        )

        async def recorded(n: int) -> bool:
            return len(steps.recorded) >= n

        await wait_for("the first outcome", lambda: recorded(1), env)
        assert steps.recorded[0].outcome is Outcome.FAILED

        steps.broken_recipes.clear()  # the board was fixed
        redo = RedoRequest(request_id="req-1", message_ids=["AAMk-1", "AAMk-1"])
        assert await handle.execute_update(ConnectionWorkflow.redo_messages, redo) == 1
        await wait_for("the redone outcome", lambda: recorded(2), env)
        assert steps.recorded[1].outcome is Outcome.PROCESSED
        child = env.client.get_workflow_handle(
            redo_workflow_id(connection_id, "AAMk-1", "req-1"), result_type=MessageResult
        )
        assert (await child.result()).outcome is Outcome.PROCESSED

        # The same request again (a retried API call): its child id refuses a second start.
        assert await handle.execute_update(ConnectionWorkflow.redo_messages, redo) == 1
        await handle.execute_update(
            ConnectionWorkflow.redo_messages, RedoRequest(request_id="req-2", message_ids=["AAMk-1"])
        )
        await wait_for("the second request's outcome", lambda: recorded(3), env)
        assert steps.calls["check_folder"] == 3

        # More than the waiting-ids cap (2,000 bytes here) is refused whole, and written nowhere.
        too_many = RedoRequest(
            request_id="req-3", message_ids=[f"AAMk-{n:03d}-{'x' * 100}" for n in range(30)]
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ConnectionWorkflow.redo_messages, too_many)
        with pytest.raises(ValueError):
            RedoRequest(request_id="req-4", message_ids=["m"] * 501)

        view = await status(handle)
        assert view.status is ConnectionStatus.ACTIVE
        if RECORD:
            await write_run(env.client, handle.id, None, "connection-redo-messages")
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
