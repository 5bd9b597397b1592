"""`python -m stack` refuses clearly instead of half-starting: busy ports, a second supervisor, a part
that cannot start (and then nothing is left running)."""

from __future__ import annotations

import fcntl
import re
import socket
from pathlib import Path

from tests.stack.stack_process import StackPorts, StackProcess, pid_alive


def test_busy_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    ports = StackPorts()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports.temporal))
        blocker.listen()
        stack = StackProcess(tmp_path / "data", ports)
        try:
            assert stack.process.wait(60) == 1
            stack.wait_for(rf"^FAIL\s+stack\s+in use: temporal port {ports.temporal} ", 5)
        finally:
            stack.kill()
    assert not (tmp_path / "data" / "stack.json").exists()


def test_second_supervisor_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (data_dir / "stack.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        stack = StackProcess(data_dir, StackPorts())
        try:
            assert stack.process.wait(60) == 1
            stack.wait_for(r"^FAIL\s+stack\s+another `python -m stack` is running on ", 5)
        finally:
            stack.kill()


def test_part_that_cannot_start_is_reported_and_everything_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # A directory where Temporal's SQLite file should be: the dev server exits at once.
    (data_dir / "temporal" / "temporal.db").mkdir(parents=True)
    stack = StackProcess(data_dir, StackPorts())
    try:
        assert stack.process.wait(120) == 1, stack.console()
        stack.wait_for(r"^FAIL\s+temporal\s+exit code 1 before it was healthy", 1)
        stack.wait_for(r"^FAIL\s+stack\s+temporal did not start, stopping everything", 1)
        stack.wait_for(r"^last lines of .*temporal\.log:", 1)
        # The parts that did start were stopped again, none left behind.
        stack.wait_for(r"^stopped\s+openbao", 1)
        started = [int(m) for m in _pids(stack.console(last=1000))]
        assert started, stack.console()
        assert not [pid for pid in started if pid_alive(pid)]
    finally:
        stack.kill()


def _pids(console: str) -> list[str]:
    return re.findall(r"^ok\s+\S+\s+.*pid (\d+)\)", console, flags=re.MULTILINE)
