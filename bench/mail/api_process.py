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
from collections.abc import Iterator
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
def api_process(settings: Settings, port: int, log_path: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        # As many processes as `make run` starts (API_WORKERS).
        workers = ["--workers", str(settings.api_workers)]
        child = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", str(port), *workers, "--log-level", "warning"],
            cwd=REPO_ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if child.poll() is not None:
                    raise RuntimeError(f"API exited: {log_path.read_text(errors='replace')[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("API did not become healthy")
                time.sleep(0.2)
            yield url
        finally:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
