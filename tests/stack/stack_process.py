"""Runs `python -m stack` as a real process on free ports in a tmp dir and follows its console."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
URLS_DONE = "Press Ctrl-C to stop."


@dataclass
class StackPorts:
    temporal: int = field(default_factory=free_port)
    temporal_ui: int = field(default_factory=free_port)
    openbao: int = field(default_factory=free_port)
    openbao_cluster: int = field(default_factory=free_port)
    emulator: int = field(default_factory=free_port)
    api: int = field(default_factory=free_port)
    worker_metrics: int = field(default_factory=free_port)

    def env(self, data_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STACK_", "EMULATOR_"))}
        for name in ("PUBLIC_BASE_URL", "TEMPORAL_ADDRESS", "VAULT_ADDR", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
            env.pop(name, None)
        env.update(
            {
                "DATA_DIR": str(data_dir),
                "API_PORT": str(self.api),
                "WORKER_METRICS_PORT": str(self.worker_metrics),
                "STACK_TEMPORAL_PORT": str(self.temporal),
                "STACK_TEMPORAL_UI_PORT": str(self.temporal_ui),
                "STACK_OPENBAO_PORT": str(self.openbao),
                "STACK_OPENBAO_CLUSTER_PORT": str(self.openbao_cluster),
                "STACK_EMULATOR_PORT": str(self.emulator),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def all(self) -> list[int]:
        return [
            self.temporal,
            self.temporal_ui,
            self.openbao,
            self.openbao_cluster,
            self.emulator,
            self.api,
            self.worker_metrics,
        ]


class StackProcess:
    def __init__(self, data_dir: Path, ports: StackPorts) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stack"],
            cwd=REPO_ROOT,
            env=ports.env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match[str]:
        """The first console line from index `since` matching the regex; fails with the console shown."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = since
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    if match:
                        return match
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r}; console:\n{self.console()}")
                self._cond.wait(min(remaining, 0.5))

    def console(self, last: int = 150) -> str:
        with self._cond:
            return "\n".join(self.lines[-last:])

    def state(self) -> dict[str, int]:
        data = json.loads((self.data_dir / "stack.json").read_text())
        return {name: int(part["pid"]) for name, part in data["parts"].items()}

    def stop(self, sig: int = signal.SIGINT, timeout: float = 90.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        # Last resort after a failed test; the children follow through PDEATHSIG.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (only its exit status is left).
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
