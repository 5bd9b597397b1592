"""The worker process's thread pool for blocking calls, set on purpose rather than left to asyncio.

The activities, the payload codec and the Vault client run SQLAlchemy and hvac calls through
`asyncio.to_thread`, i.e. the loop's default executor. asyncio's default is min(32, cores + 4) threads,
a guess about CPU-bound work; these calls mostly wait on a database lock or a socket, so the size is a
setting (WORKER_IO_THREADS, its default measured: bench/README.md). The pool records how long jobs wait
for a thread; the worker logs that on SIGUSR1 (the benchmark reads it per phase) and when it stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from config.executor import MeasuredThreadPool, PoolWaits
from config.settings import Settings

log = logging.getLogger("worker.pool")

THREAD_PREFIX = "worker-io"
# What follows this in the log line is the PoolWaits as JSON (read back by `read_waits`).
JSON_MARKER = "; waits "


def install(settings: Settings) -> MeasuredThreadPool:
    """Makes a pool of WORKER_IO_THREADS the running loop's default executor, and SIGUSR1 log its waits.
    For the process's own loop (`asyncio.run` shuts the pool down when it ends)."""
    pool = MeasuredThreadPool(settings.worker_io_threads, thread_name_prefix=THREAD_PREFIX)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(pool)
    loop.add_signal_handler(signal.SIGUSR1, log_waits, pool)
    return pool


def log_waits(pool: MeasuredThreadPool) -> None:
    waits = pool.waits()
    log.info("thread pool %s: %s%s%s", waits.pool, waits.summary(), JSON_MARKER, waits.model_dump_json())


def read_waits(line: str) -> PoolWaits | None:
    """The PoolWaits of a line `log_waits` wrote; None for any other line."""
    if line.startswith("{"):  # a JSON log line (LOG_FORMAT=json): the record's message is the line
        try:
            line = str(json.loads(line).get("message", ""))
        except (ValueError, AttributeError):
            return None
    if JSON_MARKER not in line or "thread pool " not in line:
        return None
    return PoolWaits.model_validate_json(line.rsplit(JSON_MARKER, 1)[1])
