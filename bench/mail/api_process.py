"""The API in its own process, as `make run` runs it (`uvicorn api.main:app`), configured through the
environment from the benchmark's Settings; so the webhook's latency is not shared with the benchmark's
own event loop (load generator and worker)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from config.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
UVICORN = [sys.executable, "-m", "uvicorn", "api.main:app"]


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value = _env_value(getattr(settings, name))
        if value is not None:
            env[name.upper()] = value
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def service_process(
    command: list[str], settings: Settings, log_path: Path, ready: Callable[[], bool], stop_seconds: float
) -> Iterator[None]:
    """A part of the service in its own process (output to `log_path`), until `ready()`; SIGTERM after."""
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            command, cwd=REPO_ROOT, env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while not ready():
                if child.poll() is not None:
                    raise RuntimeError(
                        f"{command[-1]} exited: {log_path.read_text(errors='replace')[-2000:]}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[-1]} did not become ready")
                time.sleep(0.2)
            yield
        finally:
            child.terminate()
            try:
                child.wait(timeout=stop_seconds)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextlib.contextmanager
def api_process(settings: Settings, port: int, log_path: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        return False

    # As many processes as `make run` starts (API_WORKERS).
    workers = ["--workers", str(settings.api_workers)]
    command = [*UVICORN, "--host", "127.0.0.1", "--port", str(port), *workers, "--log-level", "warning"]
    with service_process(command, settings, log_path, healthy, stop_seconds=10):
        yield url
