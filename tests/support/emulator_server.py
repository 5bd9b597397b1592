"""Starts the real emulator process (`python -m emulator`) on a free port for tests and benchmarks.

    with start_emulator(tmp_path, access_token_lifetime_min=60) as emu:
        emu.base_url, emu.authority("common"), emu.graph_url, emu.ca_path

Keyword overrides become EMULATOR_* environment variables: `throttle_budget=5` and
`EMULATOR_THROTTLE_BUDGET="5"` are the same; lists and dicts are sent as JSON (e.g. `apps=[{...}]`).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _env_name(key: str) -> str:
    upper = key.upper()
    return upper if upper.startswith("EMULATOR_") else f"EMULATOR_{upper}"


@dataclass
class RunningEmulator:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "ca.pem"

    def authority(self, tenant: str = "common") -> str:
        return f"{self.base_url}/{tenant}"

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the emulator's CA (httpx deprecates verify=<path>; MSAL takes verify=str(ca_path))."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def client(self, **kwargs: Any) -> httpx.Client:
        """A synchronous httpx client trusting the emulator's CA, based at base_url."""
        return httpx.Client(base_url=self.base_url, verify=self.ssl_context(), **kwargs)

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

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_healthy(emu: RunningEmulator) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if emu.process.poll() is not None:
            return False
        if emu.ca_path.exists():
            try:
                resp = httpx.get(f"{emu.base_url}/_emulator/health", verify=emu.ssl_context(), timeout=2)
                if resp.status_code == 200:
                    return True
            except (httpx.HTTPError, OSError):
                pass
        time.sleep(0.1)
    return False


def start_emulator(data_dir: Path, **env_overrides: Any) -> RunningEmulator:
    """Starts `python -m emulator` on a free port with its state in data_dir; returns when healthy."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({_env_name(k): _env_value(v) for k, v in env_overrides.items()})
    last_log = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding: retry
        port = free_port()
        log_path = data_dir / f"emulator-{port}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        emu = RunningEmulator(port=port, data_dir=data_dir, process=process, log_path=log_path, _log=log)
        if _wait_healthy(emu):
            return emu
        last_log = emu.log_text()
        emu.stop()
    raise RuntimeError(f"emulator did not become healthy; last log:\n{last_log[-4000:]}")
