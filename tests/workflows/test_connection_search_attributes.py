"""What an operator sees of a connection in the Temporal UI, on a real dev server (temporal_env): its
workflow is listed by each of ConnectionId, Mailbox, OwnerId and ConnectionStatus, ConnectionStatus
follows the status as it changes (active, revoked, disconnected), and the summary and the current details
say whose mailbox it is and what the workflow waits for.

The workflow is started the way the API starts it (connections/lifecycle.py), with the simulated
Microsoft of test_connection_time_skipping.py as its activities."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connections import lifecycle
from db.connections import Connection
from payloads.connection import ConnectionStatus, ConnectionView, LifecycleEvent
from stack.temporal import SEARCH_ATTRIBUTES
from tests.workflows.test_connection_children import wait_for
from tests.workflows.test_connection_time_skipping import SimulatedMicrosoft, status
from tests.workflows.test_connection_timing import current_details
from workflows import search_attributes
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id


def test_every_search_attribute_is_registered_by_make_run() -> None:
    assert set(SEARCH_ATTRIBUTES) == {"ConnectionId", "Mailbox", "ConnectionStatus", "OwnerId"}
    assert {key.name for key in search_attributes.ALL} == set(SEARCH_ATTRIBUTES)


async def listed(env: WorkflowEnvironment, query: str) -> list[str]:
    return [w.id async for w in env.client.list_workflows(query)]


async def wait_listed(env: WorkflowEnvironment, query: str, expected: list[str]) -> None:
    async def found() -> bool:
        return await listed(env, query) == expected

    await wait_for(f"visibility to answer {query!r} with {expected}", found, env)


async def wait_status(handle: WorkflowHandle[Any, ConnectionView], wanted: ConnectionStatus, env) -> None:
    async def reached() -> bool:
        return (await status(handle)).status is wanted

    await wait_for(f"the connection to be {wanted.value}", reached, env)


async def test_an_operator_finds_a_connection_by_its_attributes_as_its_status_changes(
    temporal_env: WorkflowEnvironment,
) -> None:
    env = temporal_env
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    connection = Connection(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        mailbox=f"ada-{uuid.uuid4().hex[:8]}@example.test",
        scopes="User.Read Mail.Read",
        status=ConnectionStatus.CONNECTING.value,
    )
    workflow_id = connection_workflow_id(connection.id)
    by_id = f"ConnectionId = '{connection.id}'"
    async with Worker(
        env.client, task_queue=queue, workflows=[ConnectionWorkflow], activities=ms.activities()
    ):
        await lifecycle.start_workflow(env.client, queue, connection)
        handle: WorkflowHandle[Any, ConnectionView] = env.client.get_workflow_handle(workflow_id)
        await wait_status(handle, ConnectionStatus.ACTIVE, env)

        # Each attribute alone finds it, and all of them together with the status it now has.
        for query in (
            by_id,
            f"Mailbox = '{connection.mailbox}'",
            f"OwnerId = '{connection.owner_id}'",
            f"{by_id} AND ConnectionStatus = 'active'",
        ):
            await wait_listed(env, query, [workflow_id])
        everything = (
            f"{by_id} AND Mailbox = '{connection.mailbox}' AND OwnerId = '{connection.owner_id}' "
            "AND ConnectionStatus = 'active'"
        )
        await wait_listed(env, everything, [workflow_id])

        description = await handle.describe()
        assert await description.static_summary() == f"Outlook connection for {connection.mailbox}"
        details = await current_details(env, workflow_id)
        assert f"**Outlook connection for** {connection.mailbox}" in details
        assert "**Status:** active" in details
        for waits_for in ("**Next token refresh:**", "**Next subscription renewal:**", "**Messages:**"):
            assert waits_for in details, details

        # Revoked (Graph's reauthorizationRequired, then a refresh the grant refuses): the status is
        # upserted, so the active listing no longer has it.
        ms.revoked_reason = "AADSTS50173: the grant was revoked"
        await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.REAUTHORIZATION_REQUIRED)
        await wait_status(handle, ConnectionStatus.REVOKED, env)
        await wait_listed(env, f"{by_id} AND ConnectionStatus = 'revoked'", [workflow_id])
        assert await listed(env, f"{by_id} AND ConnectionStatus = 'active'") == []
        details = await current_details(env, workflow_id)
        assert "**Status:** revoked" in details and "AADSTS50173" in details
        assert "**Waiting for:** the mailbox's owner to reconnect" in details
        assert "Next token refresh" not in details and "Next subscription renewal" not in details

        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
    await wait_listed(env, f"{by_id} AND ConnectionStatus = 'disconnected'", [workflow_id])
    await wait_listed(
        env, f"OwnerId = '{connection.owner_id}' AND ExecutionStatus = 'Completed'", [workflow_id]
    )
