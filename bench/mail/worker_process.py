"""The product worker in its own process, as `make run` runs it (`python worker.py`): its workflow tasks
and activities do not share a GIL with the benchmark's load generator and measurement."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.mail.api_process import REPO_ROOT, settings_env
from config.settings import Settings

READY_LINE = "polling task queue"


@contextlib.contextmanager
def worker_process(settings: Settings, log_path: Path) -> Iterator[None]:
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=REPO_ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while READY_LINE not in log_path.read_text(errors="replace"):
                if child.poll() is not None:
                    raise RuntimeError(f"worker exited: {log_path.read_text(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("worker did not start polling")
                time.sleep(0.2)
            yield
        finally:
            child.terminate()  # SIGTERM: the worker finishes running activities, then exits
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
