"""Board events through the API's forwarder to the connection workflow and its SendEmailWorkflow child, on
a real Temporal: one email per event and recipe even when the event is signalled twice; an event no
recipe's trigger matches is only marked forwarded; a revoked connection records the send as failed.

The connection workflow's own activities are the simulated Microsoft of tests/workflows (its token and
subscription work is tested there); the send's activities are the real ones, against the emulator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import update
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activitylog import recent_outcomes
from api.board_event_forwarder import BoardEventForwarder
from db.board_events import BoardEvent
from db.engine import session_scope
from payloads.connection import ConnectionInput, ConnectionStatus, LifecycleEvent
from payloads.sends import Outcome, SendResult
from tests.activities.send_support import Scenario, add_event, inbox, scenario, send_activities
from tests.activities.support import World
from tests.replay.record import RECORD, write_run
from tests.workflows.test_connection_time_skipping import SimulatedMicrosoft, status
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id, send_workflow_id
from workflows.send_email import SendEmailWorkflow


@asynccontextmanager
async def connection_running(
    client: Client, world: World, sc: Scenario, ms: SimulatedMicrosoft
) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    queue = f"fwd-{uuid.uuid4()}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[ConnectionWorkflow, SendEmailWorkflow],
        activities=[*ms.activities(), *send_activities(world).all()],
    )
    async with worker:
        handle = await client.start_workflow(
            ConnectionWorkflow.run,
            ConnectionInput(
                connection_id=sc.mailbox.connection_id,
                owner_id=str(sc.mailbox.owner_id),
                mailbox=sc.mailbox.email,
                incoming=False,
            ),
            id=connection_workflow_id(sc.mailbox.connection_id),
            task_queue=queue,
        )
        await eventually("the connection to be active", lambda: _status_is(handle, ConnectionStatus.ACTIVE))
        yield handle


async def _status_is(handle: WorkflowHandle[Any, Any], wanted: ConnectionStatus) -> bool:
    return (await status(handle)).status is wanted


async def eventually(what: str, check: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def started(handle: WorkflowHandle[Any, Any]) -> WorkflowHandle[Any, Any]:
    """The child once it exists: the signal was accepted, the start follows in the parent's next task."""

    async def exists() -> bool:
        try:
            await handle.describe()
        except RPCError:
            return False
        return True

    await eventually(f"{handle.id} to start", exists)
    return handle


def unforward(world: World, event_id: str) -> None:
    with session_scope(world.engine) as session:
        session.execute(
            update(BoardEvent).where(BoardEvent.id == uuid.UUID(event_id)).values(forwarded_at=None)
        )


def forwarded(world: World, event_id: str) -> bool:
    with session_scope(world.engine) as session:
        event = session.get(BoardEvent, uuid.UUID(event_id))
        return event is not None and event.forwarded_at is not None


def outcomes(world: World, sc: Scenario) -> list[tuple[str, str, str]]:
    with session_scope(world.engine) as session:
        rows = recent_outcomes(session, uuid.UUID(sc.mailbox.connection_id), 10)
        return [(r.message_id, r.outcome, r.reason) for r in rows]


async def test_an_event_signalled_twice_sends_one_email(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    client = temporal_env.client
    sc = await scenario(world)
    unmatched = await asyncio.to_thread(add_event, world, sc.board_id, sc.item_id, "Working", "Done")
    forwarder = BoardEventForwarder(world.engine, client)
    async with connection_running(client, world, sc, SimulatedMicrosoft()) as connection:
        first = await forwarder.forward_once()
        # At least once: the same event again (a crash before it was marked, another API process).
        await asyncio.to_thread(unforward, world, sc.event_id)
        second = await forwarder.forward_once()
        send = client.get_workflow_handle(
            send_workflow_id(sc.mailbox.connection_id, sc.event_id, sc.recipe_id), result_type=SendResult
        )
        await started(send)
        result = await asyncio.wait_for(send.result(), timeout=60)
        if RECORD:
            await write_run(client, connection.id, None, "connection-send-child-running")
        await connection.signal(ConnectionWorkflow.disconnect)
        await connection.result()
        if RECORD:
            await write_run(client, connection.id, None, "connection-send-child")

    assert first.signals == 1 and second.signals == 1
    assert first.forwarded >= 2  # the matching event and the one no recipe watches for
    assert await asyncio.to_thread(forwarded, world, unmatched)
    assert result.outcome is Outcome.PROCESSED
    assert len(await inbox(world, sc.recipient)) == 1
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{send.id}'")]
    assert len(runs) == 1
    assert forwarder.totals["signalled"] == 2


async def test_a_revoked_connection_records_the_send_as_failed(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    client = temporal_env.client
    sc = await scenario(world)
    ms = SimulatedMicrosoft()
    forwarder = BoardEventForwarder(world.engine, client)
    async with connection_running(client, world, sc, ms) as connection:
        ms.revoked_reason = "the user revoked the app's consent"
        await connection.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.REAUTHORIZATION_REQUIRED)
        await eventually(
            "the connection to be revoked", lambda: _status_is(connection, ConnectionStatus.REVOKED)
        )
        await forwarder.forward_once()
        send = client.get_workflow_handle(
            send_workflow_id(sc.mailbox.connection_id, sc.event_id, sc.recipe_id), result_type=SendResult
        )
        await started(send)
        result = await asyncio.wait_for(send.result(), timeout=60)
        await connection.signal(ConnectionWorkflow.disconnect)
        await connection.result()

    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("the connection is revoked")
    assert await inbox(world, sc.recipient) == []
    assert await asyncio.to_thread(outcomes, world, sc) == [
        (f"send/{sc.event_id}/{sc.recipe_id}", "failed", result.reason)
    ]


async def test_an_ended_connection_gets_a_failed_send_and_the_event_is_forwarded(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world)  # no connection workflow was ever started for it
    forwarder = BoardEventForwarder(world.engine, temporal_env.client)
    await forwarder.forward_once()
    assert await asyncio.to_thread(forwarded, world, sc.event_id)
    [(message_id, outcome, reason)] = await asyncio.to_thread(outcomes, world, sc)
    assert (message_id, outcome) == (f"send/{sc.event_id}/{sc.recipe_id}", "failed")
    assert "ended" in reason
