"""The connection workflow's timing rules and what it shows, on the time-skipping server: keep-alive
refreshes when access tokens outlive it, jitter spreading many connections apart, an invalid mailbox
stopping the work, and the Temporal UI's current details in every run (also after continue-as-new)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from payloads.connection import ConnectionStatus, ConnectionTiming, ValidationResult
from tests.replay.record import RECORD, write_run
from tests.workflows.test_connection_time_skipping import (
    SimulatedMicrosoft,
    simulated_worker,
    skip,
    start,
    status,
)
from workflows.connection import ConnectionWorkflow

KEEPALIVE = ConnectionTiming().keepalive_interval


async def current_details(env: WorkflowEnvironment, workflow_id: str) -> str:
    metadata = await env.client.get_workflow_handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    details: str = metadata.current_details
    return details


async def test_keepalive_refreshes_an_idle_grant_before_its_inactivity_limit(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # Access tokens that outlive the keep-alive (as a tenant's token-lifetime policy can make them):
    # only the keep-alive rule makes the workflow refresh, and so keep the refresh token alive.
    ms = SimulatedMicrosoft(access_lifetime=timedelta(days=60))
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(days=30))
        assert (await status(handle)).status is ConnectionStatus.ACTIVE
        assert len(ms.refreshes) >= 30 // KEEPALIVE.days
        gaps = [b - a for a, b in zip(ms.refreshes, ms.refreshes[1:], strict=False)]
        assert max(gaps) <= KEEPALIVE + timedelta(minutes=1)
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()


async def test_refreshes_of_connections_started_together_are_spread_by_jitter(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handles = [await start(time_skipping_env, ms, queue) for _ in range(8)]
        await skip(time_skipping_env, timedelta(minutes=30))
        ms.refreshes.clear()  # the connections start within seconds of each other
        await skip(time_skipping_env, timedelta(hours=1))
        # Without jitter all eight refresh within seconds of each other, 10 minutes before expiry;
        # with up to 5 minutes of jitter each, eight draws all within one minute are ~1 in 10,000.
        assert len(ms.refreshes) == 8
        assert max(ms.refreshes) - min(ms.refreshes) > timedelta(minutes=1)
        for handle in handles:
            await handle.signal(ConnectionWorkflow.disconnect)
            await handle.result()


async def test_invalid_mailbox_stops_the_work_with_the_reason(time_skipping_env: WorkflowEnvironment) -> None:
    ms = SimulatedMicrosoft(
        mailbox_check=ValidationResult(ok=False, reason="this account has no Outlook mailbox")
    )
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(minutes=5))
        view = await status(handle)
        assert view.status is ConnectionStatus.INVALID
        assert view.status_reason == "this account has no Outlook mailbox"
        assert ms.statuses[-1].status is ConnectionStatus.INVALID
        # Nothing is subscribed, and nothing is attempted while it stays invalid.
        await skip(time_skipping_env, timedelta(days=3))
        assert ms.created == 0 and not ms.refreshes and not ms.catch_ups
        assert "this account has no Outlook mailbox" in await current_details(time_skipping_env, handle.id)
        await handle.signal(ConnectionWorkflow.disconnect)
        assert (await handle.result()).status is ConnectionStatus.DISCONNECTED


async def test_every_run_shows_its_details_in_the_ui(time_skipping_env: WorkflowEnvironment) -> None:
    ms = SimulatedMicrosoft()
    queue = f"q-{uuid.uuid4()}"
    async with simulated_worker(time_skipping_env, queue, ms):
        handle = await start(time_skipping_env, ms, queue)
        await skip(time_skipping_env, timedelta(minutes=5))
        first = await current_details(time_skipping_env, handle.id)
        assert "ada@example.test" in first and "active" in first and "Next token refresh" in first
        # Hourly work over two weeks outgrows a history: the workflow continues as new.
        while (await handle.describe()).run_id == handle.first_execution_run_id:
            await skip(time_skipping_env, timedelta(days=1))
        later = await current_details(time_skipping_env, handle.id)
        assert "ada@example.test" in later and "active" in later and "Next token refresh" in later
        assert later != first  # the details follow the refreshes and renewals
        if RECORD:
            # The first run, ending in continue-as-new, and the run it handed over to.
            first_run = handle.first_execution_run_id
            await write_run(time_skipping_env.client, handle.id, first_run, "timeskip-continued-run1")
        await handle.signal(ConnectionWorkflow.disconnect)
        await handle.result()
        if RECORD:
            await write_run(time_skipping_env.client, handle.id, None, "timeskip-continued-run2")
