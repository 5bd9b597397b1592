"""The product worker in its own process, as `make run` runs it (`python worker.py`): its workflow tasks
and activities do not share a GIL with the benchmark's load generator and measurement."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.mail.api_process import REPO_ROOT, ServiceProcess, service_process
from config.settings import Settings

READY_LINE = "polling task queue"


@contextlib.contextmanager
def worker_process(
    settings: Settings, log_path: Path, code_dir: Path = REPO_ROOT
) -> Iterator[ServiceProcess]:
    def polling() -> bool:
        return log_path.exists() and READY_LINE in log_path.read_text(errors="replace")

    # SIGTERM at the end: the worker finishes running activities (up to its graceful timeout), then exits.
    command = [sys.executable, "worker.py"]
    with service_process(command, settings, log_path, polling, stop_seconds=30, code_dir=code_dir) as worker:
        yield worker
