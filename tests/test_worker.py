"""`python worker.py` as a real process: it polls the task queue, serves check_vault_login against a real
OpenBao, and stops cleanly on SIGTERM. The activity itself is also run directly for its failure path.
`worker.run` in this process: once stopped, it has closed every client it opened.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import worker
from activities.health import HealthActivities, VaultLoginCheck
from tests.support.appdb import make_settings
from tests.support.opened import Opened
from vault import VaultLoginFailed

REPO_ROOT = Path(__file__).resolve().parent.parent


@workflow.defn
class CallVaultLoginCheck:
    """Test-only caller: runs the worker's activity on the worker's own task queue."""

    @workflow.run
    async def run(self, task_queue: str) -> VaultLoginCheck:
        result: VaultLoginCheck = await workflow.execute_activity(
            "check_vault_login",
            task_queue=task_queue,
            result_type=VaultLoginCheck,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return result


async def _has_pollers(client: Any, queue: str) -> bool:
    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
    except RPCError:
        return False  # a busy server dropped the call ("operation was canceled"): the caller asks again
    return bool(response.pollers)


async def test_worker_process_serves_vault_check_and_stops_on_sigterm(temporal_env, openbao, tmp_path):
    client = temporal_env.client
    queue = f"worker-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATA_DIR": str(tmp_path),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": queue,
        "VAULT_ADDR": openbao.addr,
        "VAULT_ROLE_ID": openbao.role_id,
        "VAULT_SECRET_ID": openbao.secret_id,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not await _has_pollers(client, queue):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "worker never polled: " + log_path.read_text()
            await asyncio.sleep(0.3)

        async with Worker(
            client,
            task_queue=f"{queue}-caller",
            workflows=[CallVaultLoginCheck],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            result = await client.execute_workflow(
                CallVaultLoginCheck.run,
                queue,
                id=f"vault-check-{queue}",
                task_queue=f"{queue}-caller",
                execution_timeout=timedelta(seconds=60),
                result_type=VaultLoginCheck,
            )
        assert "outlook-integration" in result.policies
        assert result.ttl_seconds > 0

        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 40) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    assert "worker stopped" in output
    assert openbao.secret_id not in output


async def test_vault_check_refuses_bad_approle_without_the_secret(openbao, tmp_path):
    settings = make_settings(
        tmp_path,
        vault_addr=openbao.addr,
        vault_role_id=openbao.role_id,
        vault_secret_id="not-the-secret-id-42",
    )
    with pytest.raises(VaultLoginFailed) as caught:
        await ActivityEnvironment().run(HealthActivities(settings).check_vault_login)
    assert "not-the-secret-id-42" not in str(caught.value)


async def test_run_closes_what_it_opened_once_stopped(temporal_env, openbao, tmp_path, monkeypatch):
    client = temporal_env.client
    queue = f"worker-run-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        tmp_path,
        temporal_address=client.service_client.config.target_host,
        temporal_namespace=client.namespace,
        temporal_task_queue=queue,
        vault_addr=openbao.addr,
        vault_role_id=openbao.role_id,
        vault_secret_id=openbao.secret_id,
    )
    opened = Opened(monkeypatch)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(settings, stop))
    deadline = time.monotonic() + 60
    while not await _has_pollers(client, queue):
        assert not running.done(), running.exception()
        assert time.monotonic() < deadline, "the worker never polled"
        await asyncio.sleep(0.3)
    # The activities' engine, Vault (theirs and the codec's, hvac's requests sessions), Graph's httpx client.
    assert len(opened.engines) == 1 and opened.http_clients and len(opened.sessions) >= 2
    assert opened.still_open()

    stop.set()
    await asyncio.wait_for(running, 40)
    assert opened.still_open() == []
