"""`python worker.py` runs its blocking calls on a pool of WORKER_IO_THREADS threads: SIGUSR1 logs the
pool's size and queue waits (the Vault keyring read at start already went through it), and stopping
logs them once more after the worker has stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from config.executor import PoolWaits
from worker_pool import THREAD_PREFIX, read_waits

REPO_ROOT = Path(__file__).resolve().parent.parent


def _waits(log_path: Path) -> list[PoolWaits]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [w for w in map(read_waits, lines) if w is not None]


async def _until(
    condition_met: Callable[[], object], process: subprocess.Popen[bytes], log_path: Path, what: str
) -> None:
    deadline = time.monotonic() + 60
    while not condition_met():
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, f"{what}: " + log_path.read_text()
        await asyncio.sleep(0.2)


async def test_worker_uses_the_configured_pool_and_logs_its_waits(temporal_env, openbao, tmp_path):
    client = temporal_env.client
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATA_DIR": str(tmp_path),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": f"worker-pool-{uuid.uuid4().hex[:8]}",
        "VAULT_ADDR": openbao.addr,
        "VAULT_ROLE_ID": openbao.role_id,
        "VAULT_SECRET_ID": openbao.secret_id,
        "WORKER_IO_THREADS": "3",
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        await _until(lambda: "polling task queue" in log_path.read_text(), process, log_path, "never polled")
        process.send_signal(signal.SIGUSR1)
        await _until(lambda: _waits(log_path), process, log_path, "no pool line on SIGUSR1")
        [running] = _waits(log_path)
        assert (running.pool, running.threads) == (THREAD_PREFIX, 3)
        assert running.jobs >= 1  # the keyring's Vault read (asyncio.to_thread) went through this pool

        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 40) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    *_, stopped = _waits(log_path)
    assert stopped.threads == 3 and stopped.jobs >= running.jobs
    assert output.index("worker stopped") < output.rindex("thread pool")
