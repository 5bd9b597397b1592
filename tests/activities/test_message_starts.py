"""start_message_workflows (activities/message_starts.py), which serves connection workflows of earlier
releases, in an ActivityEnvironment with a client of the tests' Temporal dev server: one message
workflow per message, whatever the repeats. No worker polls the task queue, so nothing else runs."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.message_starts import start_message_workflows
from payloads.messages import MessageInput, MessageStarts, MessageStartsResult
from workflows import search_attributes as sa
from workflows.ids import message_workflow_id


@pytest.fixture
async def started(temporal_env: WorkflowEnvironment) -> AsyncIterator[list[str]]:
    """The workflow ids a test started, terminated at its end."""
    ids: list[str] = []
    yield ids
    for workflow_id in ids:
        await temporal_env.client.get_workflow_handle(workflow_id).terminate("test over")


async def test_each_message_gets_one_workflow_whatever_the_repeats(
    temporal_env: WorkflowEnvironment, started: list[str]
) -> None:
    connection_id = str(uuid.uuid4())
    env = ActivityEnvironment(client=temporal_env.client)
    env.info = dataclasses.replace(env.info, task_queue=f"activities-starts-{uuid.uuid4().hex[:8]}")
    started.extend(message_workflow_id(connection_id, m) for m in ("a-1", "b-2", "c-3"))

    first = await env.run(
        start_message_workflows, MessageStarts(connection_id=connection_id, message_ids=["a-1", "b-2", "a-1"])
    )
    second = await env.run(
        start_message_workflows, MessageStarts(connection_id=connection_id, message_ids=["b-2", "c-3"])
    )

    assert first == MessageStartsResult(started=2, duplicates=0)
    assert second == MessageStartsResult(started=1, duplicates=1)
    for message_id in ("a-1", "b-2", "c-3"):
        handle = temporal_env.client.get_workflow_handle(message_workflow_id(connection_id, message_id))
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        assert described.task_queue == env.info.task_queue
        assert described.typed_search_attributes.get(sa.CONNECTION_ID) == connection_id
        history = await handle.fetch_history()
        first_event = history.events[0].workflow_execution_started_event_attributes
        (arg,) = await temporal_env.client.data_converter.decode(first_event.input.payloads, [MessageInput])
        assert arg == MessageInput(connection_id=connection_id, message_id=message_id)
