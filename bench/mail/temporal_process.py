"""The Temporal dev server as `make run` runs it (stack/temporal.py: `temporal server start-dev` with its
SQLite file and the project's search attributes), in a process of its own that can be stopped and
started again on the same port and file: the chaos suite restarts it under load."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stack.procgroup import die_with_parent, stop_popen
from stack.temporal import TemporalDevServer, check_temporal
from tests.support.servers import free_port


@dataclass
class TemporalProcess:
    server: TemporalDevServer
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, data_dir: Path) -> TemporalProcess:
        return cls(TemporalDevServer(data_dir=data_dir, port=free_port(), ui_port=free_port()))

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def log_path(self) -> Path:
        return self.server.data_dir / "temporal.log"

    async def start(self, timeout: float = 60.0) -> None:
        """Starts the server (on its port, with its file) and waits until it answers."""
        command = [*self.server.command(), "--headless"]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"temporal exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                await check_temporal(self.address)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes its SQLite file), SIGKILL after `timeout`."""
        process, self.process = self.process, None
        if process is not None:
            stop_popen(process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
