"""SendEmailWorkflow on a real Temporal dev server with its real activities, against the emulator,
OpenBao and the application database: one email per board event and recipe, also when sendMail's answer
is lost (a timeout, a worker stopped mid-call and another worker taking over)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import send_ledger as ledger
from activitylog import recent_outcomes
from db.engine import session_scope
from payloads.sends import Outcome, SendEmailInput, SendResult
from tests.activities.send_support import Scenario, inbox, scenario, send_activities, sent_records
from tests.activities.support import World
from tests.replay.record import RECORD, write_run
from tests.support.leak_scan import email_content, scan_email_content
from workflows.ids import send_workflow_id
from workflows.send_email import SendEmailWorkflow

# Short enough for a test to wait out; the held 202 outlasts it.
SEND_TIMEOUT = timedelta(seconds=3)


@asynccontextmanager
async def send_worker(client: Client, world: World, queue: str) -> AsyncIterator[Worker]:
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[SendEmailWorkflow],
        activities=send_activities(world).all(),
        graceful_shutdown_timeout=timedelta(seconds=0),
    )
    async with worker:
        yield worker


async def start(client: Client, sc: Scenario, queue: str) -> WorkflowHandle[SendEmailWorkflow, SendResult]:
    return await client.start_workflow(
        SendEmailWorkflow.run,
        SendEmailInput(
            connection_id=sc.mailbox.connection_id,
            event_id=sc.event_id,
            recipe_id=sc.recipe_id,
            send_timeout=SEND_TIMEOUT,
        ),
        id=send_workflow_id(sc.mailbox.connection_id, sc.event_id, sc.recipe_id),
        task_queue=queue,
    )


def logged(world: World, sc: Scenario) -> list[tuple[str, str, str]]:
    with session_scope(world.engine) as session:
        rows = recent_outcomes(session, uuid.UUID(sc.mailbox.connection_id), 10)
        return [(r.direction, r.outcome, r.reason) for r in rows]


async def test_a_board_event_sends_one_email_and_the_history_holds_it_only_encrypted(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world)
    queue = f"send-{uuid.uuid4()}"
    async with send_worker(temporal_env.client, world, queue):
        handle = await start(temporal_env.client, sc, queue)
        result = await handle.result()

    assert result == SendResult(outcome=Outcome.PROCESSED, reason="recipe 'Done -> email': sent")
    arrived = await inbox(world, sc.recipient)
    assert [m["subject"] for m in arrived] == [f"Your invoice {sc.item_name} is done"]
    assert await asyncio.to_thread(logged, world, sc) == [("outgoing", "processed", result.reason)]
    history = await handle.fetch_history()
    content = email_content(
        arrived[0]["subject"], f"Hello, the status of {sc.item_name} is now Done.", recipient=sc.recipient
    )
    scan = await scan_email_content(history, handle.id, content)
    assert not scan.stored, "\n".join(map(str, scan.stored))
    assert scan.decoded, "the rendered email should pass through the history, encrypted"
    if RECORD:
        await write_run(temporal_env.client, handle.id, None, "send-email-sent")


async def test_a_lost_202_is_found_in_sent_items_and_not_sent_again(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world)
    queue = f"send-{uuid.uuid4()}"
    # The mail goes out at once, the 202 only after the attempt's start-to-close timeout.
    await world.set_faults(send_answer_delay_ms=int(SEND_TIMEOUT.total_seconds() * 1000) + 4000)
    async with send_worker(temporal_env.client, world, queue):
        handle = await start(temporal_env.client, sc, queue)
        result = await handle.result()

    assert result.outcome is Outcome.PROCESSED, result
    assert "found in Sent Items" in result.reason
    assert len(await inbox(world, sc.recipient)) == 1
    assert len(await sent_records(world, sc.mailbox.email)) == 1
    assert await asyncio.to_thread(ledger.state_of, world.engine, sc.request()) == "sent"
    if RECORD:
        await write_run(temporal_env.client, handle.id, None, "send-email-lost-answer")


async def test_a_worker_stopped_mid_send_and_another_taking_over_still_sends_one_email(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world)
    queue = f"send-{uuid.uuid4()}"
    # Graph holds the 202 for a minute: the first worker is stopped while it waits for it.
    await world.set_faults(send_answer_delay_ms=60_000)
    async with send_worker(temporal_env.client, world, queue):
        handle = await start(temporal_env.client, sc, queue)
        for _ in range(200):
            if await sent_records(world, sc.mailbox.email):
                break
            await asyncio.sleep(0.05)
        assert await sent_records(world, sc.mailbox.email), "the first attempt never reached sendMail"
        # Leaving the block stops the worker with no grace: the send in flight is abandoned.
    await world.clear_faults()
    async with send_worker(temporal_env.client, world, queue):
        result = await asyncio.wait_for(handle.result(), timeout=60)

    assert result.outcome is Outcome.PROCESSED, result
    assert "found in Sent Items" in result.reason
    assert len(await inbox(world, sc.recipient)) == 1
    assert len(await sent_records(world, sc.mailbox.email)) == 1


async def test_without_mail_read_a_lost_202_is_recorded_unknown_and_never_resent(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world, choices=("outgoing",))
    queue = f"send-{uuid.uuid4()}"
    await world.set_faults(send_answer_delay_ms=int(SEND_TIMEOUT.total_seconds() * 1000) + 4000)
    async with send_worker(temporal_env.client, world, queue):
        result = await (await start(temporal_env.client, sc, queue)).result()

    assert result.outcome is Outcome.FAILED
    assert "outcome is unknown" in result.reason and "not sent again" in result.reason
    assert await asyncio.to_thread(ledger.state_of, world.engine, sc.request()) == "unknown"
    assert len(await inbox(world, sc.recipient)) == 1  # it did go, once; nobody could know
    assert await asyncio.to_thread(logged, world, sc) == [("outgoing", "failed", result.reason)]


async def test_without_mail_send_the_send_fails_with_the_reason(
    world: World, temporal_env: WorkflowEnvironment
) -> None:
    sc = await scenario(world, choices=("incoming",))
    queue = f"send-{uuid.uuid4()}"
    async with send_worker(temporal_env.client, world, queue):
        result = await (await start(temporal_env.client, sc, queue)).result()

    assert result.outcome is Outcome.FAILED
    assert "not granted Mail.Send" in result.reason
    assert await inbox(world, sc.recipient) == []
    assert await asyncio.to_thread(logged, world, sc) == [("outgoing", "failed", result.reason)]
