"""The outbox forwarder against a real Temporal dev server and a real SQLite file.

The connections' workflows here are a stand-in with ConnectionWorkflow's name, update and signals: their
histories record exactly what the forwarder handed over, and a test can make one refuse batches as a
connection holding its maximum of waiting messages does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from api.webhook_forwarder import ForwarderTiming, WebhookForwarder
from db.engine import create_db_engine, session_scope
from db.migrate import upgrade_to_head
from db.outbox import OutboxRow
from payloads.connection import ConnectionInput, LifecycleEvent
from payloads.messages import NotifiedMessages
from tests.recipes.support import add_connection
from tests.support.appdb import add_user, make_settings
from tests.support.codec_keys import TEST_DATA_CONVERTER
from tests.support.servers import free_port
from webhooks.outbox import Outbox, OutboxEntry

# Quick retries; but generous time for each hand-over, which on a loaded machine waits for the stand-in's
# worker to run the update (a signal needed no worker), so that a round's outcome does not depend on load.
QUICK = ForwarderTiming(
    retry_first=timedelta(seconds=0.5),
    retry_max=timedelta(seconds=1),
    signal_timeout=timedelta(seconds=30),
    lease=timedelta(seconds=90),
)


@workflow.defn(name="ConnectionWorkflow", sandboxed=False)
class StandInConnection:
    """The connection workflow as the forwarder sees it: the same names and payloads (the `take_notified`
    update, the `lifecycle` signal), accepting every batch unless told it is full. The history then
    holds exactly what the forwarder handed over."""

    def __init__(self) -> None:
        self.full = False

    @workflow.run
    async def run(self, input: ConnectionInput) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    def take_notified(self, batch: NotifiedMessages) -> int:
        return len(batch.message_ids)

    @take_notified.validator
    def _room(self, batch: NotifiedMessages) -> None:
        if self.full:
            raise ValueError("backlogged")

    @workflow.signal
    def lifecycle(self, event: LifecycleEvent) -> None:
        pass

    @workflow.signal
    def set_full(self, full: bool) -> None:
        self.full = full


@pytest.fixture
async def parked(temporal_env: Any) -> AsyncIterator[Callable[[str], Awaitable[WorkflowHandle[Any, Any]]]]:
    """Starts a connection's workflow (the stand-in, on a worker of its own); terminated at the end."""
    client: Client = temporal_env.client
    queue = f"forwarder-{uuid.uuid4().hex[:8]}"
    handles: list[WorkflowHandle[Any, Any]] = []

    async def start(connection_id: str) -> WorkflowHandle[Any, Any]:
        handle = await client.start_workflow(
            "ConnectionWorkflow",
            ConnectionInput(connection_id=connection_id, owner_id=str(uuid.uuid4()), mailbox="ada@x.test"),
            id=f"connection/{connection_id}",
            task_queue=queue,
        )
        handles.append(handle)
        return handle

    async with Worker(client, task_queue=queue, workflows=[StandInConnection]):
        yield start
        for handle in handles:
            try:
                await handle.terminate("test over")
            except Exception:  # already terminated by the test
                pass


@pytest.fixture
def connection(engine: Engine, admin: tuple[Any, str]) -> Callable[[], str]:
    return lambda: add_connection(engine, admin[0], mailbox=f"{uuid.uuid4().hex[:8]}@x.test")


async def settled(handle: WorkflowHandle[Any, Any], timeout: float = 30.0) -> None:
    """Waits until the workflow has no workflow task pending. A signal that arrives while a task is in
    flight is buffered by the server and joins the history only when that task completes, so a history
    read before then can miss a signal whose RPC has already succeeded."""
    deadline = time.monotonic() + timeout
    while (await handle.describe()).raw_description.HasField("pending_workflow_task"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{handle.id} still has a workflow task pending after {timeout} s")
        await asyncio.sleep(0.05)


async def signals(handle: WorkflowHandle[Any, Any]) -> list[tuple[str, Any]]:
    """("notified", batch) for every accepted take_notified update and (signal name, argument) for every
    lifecycle signal in the workflow's history, in order, once the workflow has settled."""
    await settled(handle)
    history = await handle.fetch_history()
    found: list[tuple[str, Any]] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            [batch] = await TEST_DATA_CONVERTER.decode(request.input.args.payloads, [NotifiedMessages])
            found.append(("notified", batch))
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = event.workflow_execution_signaled_event_attributes
            if attrs.signal_name == "lifecycle":
                [value] = await TEST_DATA_CONVERTER.decode(attrs.input.payloads, [LifecycleEvent])
                found.append((attrs.signal_name, value))
    return found


def left(engine: Engine) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def changes(cid: str, *batches: list[str]) -> list[OutboxEntry]:
    return [OutboxEntry(connection_id=uuid.UUID(cid), message_ids=ids) for ids in batches]


def lifecycles(cid: str, *events: LifecycleEvent) -> list[OutboxEntry]:
    return [OutboxEntry(connection_id=uuid.UUID(cid), lifecycle_event=e) for e in events]


async def test_many_rows_become_one_signal_per_connection(engine, temporal_env, parked, connection):
    a, b = connection(), connection()
    wf_a, wf_b = await parked(a), await parked(b)
    outbox = Outbox(engine)
    # 40 webhook requests for a (overlapping ids, as Graph's created + updated pairs), 5 for b.
    await outbox.put(changes(a, *([f"a{n}", f"a{n + 1}"] for n in range(40))))
    await outbox.put(changes(b, *([f"b{n}"] for n in range(5))))
    M, R = LifecycleEvent.MISSED, LifecycleEvent.REAUTHORIZATION_REQUIRED
    await outbox.put(lifecycles(a, M, R, M))
    forwarder = WebhookForwarder(outbox, temporal_env.client, QUICK)

    result = await forwarder.forward_once()

    assert (result.claimed, result.forwarded, result.kept, result.dropped) == (48, 48, 0, 0)
    assert await signals(wf_a) == [
        ("notified", NotifiedMessages(message_ids=[f"a{n}" for n in range(41)])),
        ("lifecycle", M),
        ("lifecycle", R),
    ]
    assert await signals(wf_b) == [("notified", NotifiedMessages(message_ids=[f"b{n}" for n in range(5)]))]
    assert left(engine) == []


async def test_rows_of_ended_connections_are_deleted(engine, temporal_env, parked, connection):
    live, ended, never = connection(), connection(), connection()
    wf_live = await parked(live)
    await (await parked(ended)).terminate("disconnected")
    outbox = Outbox(engine)
    await outbox.put(
        [*changes(live, ["x"]), *changes(ended, ["y"]), *lifecycles(never, LifecycleEvent.MISSED)]
    )
    forwarder = WebhookForwarder(outbox, temporal_env.client, QUICK)

    result = await forwarder.forward_once()

    assert (result.forwarded, result.dropped, result.kept) == (1, 2, 0)
    assert await signals(wf_live) == [("notified", NotifiedMessages(message_ids=["x"]))]
    assert left(engine) == []


async def test_unreachable_temporal_keeps_rows_and_they_go_once_it_is_back(
    engine, temporal_env, parked, connection
):
    cid = connection()
    workflow = await parked(cid)
    outbox = Outbox(engine)
    await outbox.put(changes(cid, ["m1"], ["m2"]))
    down = await Client.connect(f"127.0.0.1:{free_port()}", data_converter=TEST_DATA_CONVERTER, lazy=True)

    timing = ForwarderTiming(retry_first=timedelta(seconds=2))

    result = await WebhookForwarder(outbox, down, timing).forward_once()

    assert (result.claimed, result.forwarded, result.kept) == (2, 0, 2)
    rows = left(engine)
    assert [r.attempts for r in rows] == [1, 1]
    # Held back for the retry delay, from every forwarder (the next one is in another process).
    healthy = WebhookForwarder(outbox, temporal_env.client, timing)
    assert (await healthy.forward_once()).claimed == 0
    await asyncio.sleep(timing.retry_delay(1).total_seconds() + 0.1)
    assert (await healthy.forward_once()).forwarded == 2
    assert await signals(workflow) == [("notified", NotifiedMessages(message_ids=["m1", "m2"]))]
    assert left(engine) == []


async def test_a_wrong_namespace_keeps_rows_rather_than_dropping_them(
    engine, temporal_env, parked, connection
):
    # NOT_FOUND too, but for the namespace: deleting would silently lose every notification.
    cid = connection()
    await parked(cid)
    outbox = Outbox(engine)
    await outbox.put(changes(cid, ["m1"]))
    wrong = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=f"nope-{uuid.uuid4().hex[:6]}",
        data_converter=TEST_DATA_CONVERTER,
    )
    result = await WebhookForwarder(outbox, wrong, QUICK).forward_once()
    assert (result.kept, result.dropped) == (1, 0)
    assert len(left(engine)) == 1


async def test_rows_of_a_crashed_forwarder_are_taken_once_its_lease_ran_out(
    engine, temporal_env, parked, connection
):
    cid = connection()
    workflow = await parked(cid)
    outbox = Outbox(engine)
    await outbox.put(changes(cid, ["old1"], ["old2"], ["fresh"]))
    ids = [r.id for r in left(engine)]
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        # A process died holding these: one lease has run out, one has not yet.
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids[:2]))
            .values(claimed_by="crashed/1/x", claimed_until=now - timedelta(seconds=1))
        )
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == ids[2])
            .values(claimed_by="alive/2/y", claimed_until=now + timedelta(seconds=30))
        )

    result = await WebhookForwarder(outbox, temporal_env.client, QUICK).forward_once()

    assert result.forwarded == 2
    assert await signals(workflow) == [("notified", NotifiedMessages(message_ids=["old1", "old2"]))]
    assert [r.claimed_by for r in left(engine)] == ["alive/2/y"]


async def test_two_forwarders_on_one_database_never_forward_a_row_twice(
    engine, temporal_env, parked, connection
):
    cids = [connection() for _ in range(3)]
    workflows = [await parked(cid) for cid in cids]
    await Outbox(engine).put([e for cid in cids for e in changes(cid, *([f"{cid}/{n}"] for n in range(60)))])
    # Two processes: own engines, own tokens, small rounds so that they interleave.
    other_engine = create_db_engine(str(engine.url))
    small = ForwarderTiming(batch_rows=7)
    one = WebhookForwarder(Outbox(engine), temporal_env.client, small)
    two = WebhookForwarder(Outbox(other_engine), temporal_env.client, small)

    async def drain(forwarder: WebhookForwarder) -> None:
        deadline = time.monotonic() + 60
        while await asyncio.to_thread(count, engine) and time.monotonic() < deadline:
            await forwarder.forward_once()

    try:
        await asyncio.gather(drain(one), drain(two))
    finally:
        other_engine.dispose()

    assert count(engine) == 0
    assert one.totals["forwarded"] + two.totals["forwarded"] == 180
    assert one.totals["forwarded"] and two.totals["forwarded"], "one forwarder did all the work"
    for cid, handle in zip(cids, workflows, strict=True):
        sent = [i for _name, batch in await signals(handle) for i in batch.message_ids]
        assert sorted(sent) == sorted(f"{cid}/{n}" for n in range(60))  # each exactly once


def count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


async def test_the_webhooks_wake_up_forwards_at_once_and_stop_is_prompt(
    engine, temporal_env, parked, connection
):
    cid = connection()
    workflow = await parked(cid)
    outbox = Outbox(engine)
    await outbox.put(changes(cid, ["first"]))
    forwarder = WebhookForwarder(outbox, temporal_env.client, ForwarderTiming(poll_seconds=60))
    forwarder.start()
    try:
        # Its first round forwards what was there; the next poll is a minute away.
        await until_empty(engine)
        await outbox.put(changes(cid, ["woken"]))
        await asyncio.sleep(0.5)
        assert count(engine) == 1  # nobody polls that soon
        forwarder.wake()
        await until_empty(engine)
        assert await signals(workflow) == [
            ("notified", NotifiedMessages(message_ids=["first"])),
            ("notified", NotifiedMessages(message_ids=["woken"])),
        ]
    finally:
        started = time.monotonic()
        await forwarder.stop()
    assert time.monotonic() - started < 2
    assert not forwarder.running


@contextlib.asynccontextmanager
async def forwarding_one_row(
    engine: Engine, client: Client, cid: str, dense_within_seconds: float
) -> AsyncIterator[tuple[Outbox, WebhookForwarder]]:
    """A forwarder whose gather is a minute long (a held-back row shows as still waiting), after its
    first round: one row."""
    outbox = Outbox(engine)
    timing = ForwarderTiming(poll_seconds=60, gather_seconds=60, dense_within_seconds=dense_within_seconds)
    forwarder = WebhookForwarder(outbox, client, timing)
    await outbox.put(changes(cid, ["first"]))
    forwarder.start()
    try:
        await until_empty(engine)
        yield outbox, forwarder
    finally:
        await forwarder.stop()


async def test_a_lone_notification_goes_at_once_and_only_a_busy_stream_is_gathered(
    engine, temporal_env, parked, connection
):
    """Gathering (waiting for more requests before a round) only while traffic is dense: after a round
    of several rows, or on a wake-up right after a round. A notification arriving alone, a while after
    the last, is not held back for company."""
    cid = connection()
    await parked(cid)
    async with forwarding_one_row(engine, temporal_env.client, cid, 0.2) as (outbox, forwarder):
        await asyncio.sleep(0.5)  # sparse: well after that round
        await outbox.put(changes(cid, ["lone"]))
        forwarder.wake()
        await until_empty(engine)  # not gathered: it went on at once
        for n in range(3):
            await outbox.put(changes(cid, [f"busy-{n}"]))
        await asyncio.sleep(0.5)
        forwarder.wake()
        await until_empty(engine)  # a round of three rows
        await asyncio.sleep(0.5)
        await outbox.put(changes(cid, ["gathered"]))
        forwarder.wake()
        await asyncio.sleep(1)
        assert count(engine) == 1  # held for the gather after a busy round


async def test_a_wake_up_right_after_a_round_is_gathered(engine, temporal_env, parked, connection):
    """Dense traffic of single rows (each round claims one) still gathers: the wake-up came within
    dense_within_seconds of the round's end."""
    cid = connection()
    await parked(cid)
    async with forwarding_one_row(engine, temporal_env.client, cid, 30) as (outbox, forwarder):
        await outbox.put(changes(cid, ["soon after"]))
        forwarder.wake()
        await asyncio.sleep(1)
        assert count(engine) == 1  # held for the gather


async def until_empty(engine: Engine, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while count(engine) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert count(engine) == 0, "the outbox was not forwarded in time"


async def test_a_database_without_the_table_is_waited_for(tmp_path, temporal_env, parked):
    # An API started before the migrations ran: the forwarder keeps trying instead of dying.
    settings = make_settings(tmp_path)
    engine = create_db_engine(settings.effective_database_url)
    forwarder = WebhookForwarder(Outbox(engine), temporal_env.client, QUICK)
    forwarder.start()
    try:
        await asyncio.sleep(1.5)
        assert forwarder.running
        await asyncio.to_thread(upgrade_to_head, engine)
        user_id, _token = await asyncio.to_thread(add_user, engine)
        cid = await asyncio.to_thread(add_connection, engine, user_id)
        workflow = await parked(cid)
        await Outbox(engine).put(changes(cid, ["after-migration"]))
        await until_empty(engine)
        assert await signals(workflow) == [("notified", NotifiedMessages(message_ids=["after-migration"]))]
    finally:
        await forwarder.stop()
        engine.dispose()


async def test_a_full_workflow_keeps_its_messages_in_the_outbox_but_gets_its_lifecycle_events(
    engine, temporal_env, parked, connection
):
    """Backpressure: a refused batch stays in the outbox (never in the history) with those after it;
    the connection's lifecycle events go anyway; once it has room, the batches follow in order."""
    cid = connection()
    workflow_handle = await parked(cid)
    await workflow_handle.signal(StandInConnection.set_full, True)
    outbox = Outbox(engine)
    await outbox.put(changes(cid, ["m1"]))
    await outbox.put(lifecycles(cid, LifecycleEvent.MISSED))
    forwarder = WebhookForwarder(outbox, temporal_env.client, QUICK)

    first = await forwarder.forward_once()

    assert (first.forwarded, first.kept) == (1, 1)
    assert await signals(workflow_handle) == [("lifecycle", LifecycleEvent.MISSED)]
    assert [r.message_ids for r in left(engine)] == ['["m1"]']

    await workflow_handle.signal(StandInConnection.set_full, False)
    await asyncio.sleep(QUICK.retry_delay(1).total_seconds() + 0.1)
    second = await forwarder.forward_once()

    assert second.forwarded == 1
    assert await signals(workflow_handle) == [
        ("lifecycle", LifecycleEvent.MISSED),
        ("notified", NotifiedMessages(message_ids=["m1"])),
    ]
    assert left(engine) == []
