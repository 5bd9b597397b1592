"""Starts the monday.com fake (`python -m monday_fake`) on a free port for tests, like emulator_server.py.

with start_monday_fake(tmp_path, tokens=["t0k"]) as fake:
    fake.api_url            # http://127.0.0.1:<port>/v2, what MondayClient posts to
    fake.control(...)       # a synchronous httpx client on /_fake
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from tests.support.emulator_server import REPO_ROOT, free_port

START_TIMEOUT_SECONDS = 30.0


@dataclass
class RunningMondayFake:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v2"

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.base_url}/_fake{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def add_board(self, name: str, groups: list[str], columns: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"name": name, "groups": groups, "columns": columns}
        result: dict[str, Any] = self.control("POST", "/boards", json=body).json()
        return result

    def board(self, board_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", f"/boards/{board_id}").json()
        return result

    def fault(self, kind: str, **options: Any) -> None:
        self.control("POST", "/faults", json={"kind": kind, **options})

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/requests").json()
        return result

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> RunningMondayFake:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _healthy(fake: RunningMondayFake) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if fake.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{fake.base_url}/_fake/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def start_monday_fake(log_dir: Path, tokens: list[str] | None = None) -> RunningMondayFake:
    """Starts the fake on a free port; returns once it answers its health check."""
    log_dir.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding: retry
        port = free_port()
        log_path = log_dir / f"monday-fake-{port}.log"
        log = log_path.open("wb")
        command = [sys.executable, "-m", "monday_fake", "--host", "127.0.0.1", "--port", str(port)]
        for token in tokens or []:
            command += ["--token", token]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        fake = RunningMondayFake(port=port, process=process, log_path=log_path, _log=log)
        if _healthy(fake):
            return fake
        last_log = fake.log_text()
        fake.stop()
    raise RuntimeError(f"monday.com fake did not become healthy; last log:\n{last_log[-4000:]}")
