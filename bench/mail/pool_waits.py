"""The product worker's thread-pool queue during a phase: how long its blocking calls (database, Vault)
waited for a thread. SIGUSR1 makes the worker log its pool's waits so far (worker_pool.py); a snapshot
before and after the phase give the phase's own (PoolWaits.since). Only the product's worker: the
previous release has no such handler, and SIGUSR1 would end it."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from bench.mail.api_process import ServiceProcess
from config.executor import PoolWaits
from worker_pool import read_waits

# Task queue -> the worker process serving it, for the workers that log their pool (the product's).
_WORKERS: dict[str, ServiceProcess] = {}
FIGURES = (
    "pool_threads",
    "pool_jobs",
    "pool_wait_p50_ms",
    "pool_wait_p99_ms",
    "pool_wait_max_ms",
    "pool_wait_mean_ms",
)


def register(task_queue: str, worker: ServiceProcess) -> None:
    _WORKERS[task_queue] = worker


def unregister(task_queue: str) -> None:
    _WORKERS.pop(task_queue, None)


async def snapshot(task_queue: str | None, timeout: float = 10.0) -> PoolWaits | None:
    """The waits so far of the worker on `task_queue`; None when no registered worker serves it or it
    did not answer within `timeout` (a loaded machine: the phase's figures are then left out)."""
    worker = _WORKERS.get(task_queue or "")
    if worker is None or worker.child is None:
        return None
    start = worker.log_path.stat().st_size if worker.log_path.exists() else 0
    worker.child.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with worker.log_path.open("rb") as log:
            log.seek(start)
            written = log.read().decode(errors="replace")
        found = [w for w in map(read_waits, written.splitlines()) if w is not None]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    return None


def figures(before: PoolWaits | None, after: PoolWaits | None) -> dict[str, Any]:
    """The phase's pool figures for the report (None each when not measured)."""
    if before is None or after is None:
        return dict.fromkeys(FIGURES)
    phase = after.since(before)
    return {
        "pool_threads": phase.threads,
        "pool_jobs": phase.jobs,
        "pool_wait_p50_ms": phase.quantile(0.5) * 1000,
        "pool_wait_p99_ms": phase.quantile(0.99) * 1000,
        "pool_wait_max_ms": phase.max_wait_seconds * 1000,
        "pool_wait_mean_ms": (phase.total_wait_seconds / phase.jobs * 1000) if phase.jobs else 0.0,
    }
