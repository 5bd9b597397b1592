"""One running child process: own process group, output to its log file and (prefixed) to the console."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from collections.abc import Callable
from pathlib import Path

from stack.procgroup import die_with_parent, signal_group
from telemetry.log_lines import as_json_line, readable

TAIL_LINES = 20
EXIT_POLL_SECONDS = 0.1


class Child:
    """A started process. `wait()` returns its exit code (negative: killed by that signal)."""

    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        log_path: Path,
        echo: Callable[[str, str], None],
        json_lines: bool = False,
    ) -> None:
        self.name = name
        # The part logs JSON lines: its log file holds nothing else, its console lines are readable.
        self.json_lines = json_lines
        self.process = process
        self.log_path = log_path
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        # Cleared while stopping so shutdown chatter goes to the log file only.
        self.echo_enabled = True
        self._echo = echo
        self._pump = asyncio.create_task(self._pump_output(), name=f"pump-{name}")

    @classmethod
    async def spawn(
        cls,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        echo: Callable[[str, str], None],
        json_lines: bool = False,
    ) -> Child:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
            # Its own process group: terminal Ctrl-C reaches only the supervisor, which stops the
            # children in order, and a signal to the group also reaches anything the child started.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        return cls(name, process, log_path, echo, json_lines)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    async def _pump_output(self) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("ab") as log:
            started = f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} started pid {self.pid}"
            if self.json_lines:
                started = as_json_line(f"started pid {self.pid}", "stack")
            log.write(f"{started}\n".encode())
            log.flush()
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    break
                line = raw.decode(errors="replace").rstrip()
                if self.json_lines:
                    if not line:
                        continue
                    line = as_json_line(line, f"{self.name}.output")
                    raw = f"{line}\n".encode()
                    line = readable(line)
                log.write(raw)
                log.flush()
                self.tail.append(line)
                if self.echo_enabled and line:
                    self._echo(self.name, line)

    async def _exited(self) -> int:
        # Not process.wait(): asyncio also waits there for the output pipe to close, and a process
        # that inherited it (a worker of `uvicorn --workers`) can hold it open long after this one
        # died. The child watcher records the exit status at once, but offers nothing to await for it
        # alone: poll it.
        while self.process.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(EXIT_POLL_SECONDS)
        return self.process.returncode

    async def wait(self) -> int:
        code = await self._exited()
        # Let the pump drain what the process wrote before it ended (the interesting last lines).
        try:
            await asyncio.wait_for(asyncio.shield(self._pump), timeout=2)
        except TimeoutError:
            pass
        return code

    async def stop(self, grace: float) -> int:
        """SIGTERM the group, wait up to grace seconds, then SIGKILL. Safe to call on an exited process."""
        self.echo_enabled = False
        if self.process.returncode is None:
            signal_group(self.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self._exited(), grace)
            except TimeoutError:
                signal_group(self.pid, signal.SIGKILL)
        code = await self._exited()
        # Grandchildren that outlived their parent in the group go as well.
        signal_group(self.pid, signal.SIGKILL)
        self._pump.cancel()
        return code
