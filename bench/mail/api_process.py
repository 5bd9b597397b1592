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
from dataclasses import dataclass
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


def settings_env(settings: Settings, code_dir: Path = REPO_ROOT) -> dict[str, str]:
    """The environment of a service process: the settings as variables; its code imported from
    `code_dir` (this checkout, or a worktree of an older release)."""
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value = _env_value(getattr(settings, name))
        if value is not None:
            env[name.upper()] = value
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(code_dir)
    return env


@dataclass
class ServiceProcess:
    """A part of the service in its own process (output appended to `log_path`), started until `ready()`.
    It runs in `code_dir` and imports from there (another release's worktree for the baseline)."""

    command: list[str]
    settings: Settings
    log_path: Path
    ready: Callable[[], bool]
    stop_seconds: float
    code_dir: Path = REPO_ROOT
    child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.child = child = subprocess.Popen(
                self.command,
                cwd=self.code_dir,
                env=settings_env(self.settings, self.code_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not self.ready():
            if child.poll() is not None:
                raise RuntimeError(
                    f"{self.command[-1]} exited: {self.log_path.read_text(errors='replace')[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.command[-1]} did not become ready")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `stop_seconds`."""
        child, self.child = self.child, None
        if child is None:
            return
        child.terminate()
        try:
            child.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextlib.contextmanager
def service_process(
    command: list[str],
    settings: Settings,
    log_path: Path,
    ready: Callable[[], bool],
    stop_seconds: float,
    code_dir: Path = REPO_ROOT,
) -> Iterator[ServiceProcess]:
    """A part of the service in its own process, from `ready()` until the block ends (SIGTERM then)."""
    log_path.unlink(missing_ok=True)
    service = ServiceProcess(command, settings, log_path, ready, stop_seconds, code_dir)
    try:
        service.start()
        yield service
    finally:
        service.stop()


# The API processes running now, by URL: the naive phase restarts the product's (restart_api).
_APIS: dict[str, ServiceProcess] = {}


def restart_api(url: str) -> bool:
    """Stops and starts the API processes at `url` again (their in-memory caches start empty); False
    when no API process of this benchmark serves it (the API in the benchmark's own process)."""
    service = _APIS.get(url)
    if service is None:
        return False
    service.stop()
    service.start()
    return True


@contextlib.contextmanager
def api_process(settings: Settings, port: int, log_path: Path, code_dir: Path = REPO_ROOT) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        return False

    # As many processes as `make run` starts (API_WORKERS).
    workers = ["--workers", str(settings.api_workers)]
    command = [*UVICORN, "--host", "127.0.0.1", "--port", str(port), *workers, "--log-level", "warning"]
    with service_process(command, settings, log_path, healthy, stop_seconds=10, code_dir=code_dir) as api:
        _APIS[url] = api
        try:
            yield url
        finally:
            _APIS.pop(url, None)
