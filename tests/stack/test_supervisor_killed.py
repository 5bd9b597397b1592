"""Even a supervisor killed with SIGKILL (no chance to clean up) leaves no child running."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.stack.stack_process import StackPorts, StackProcess, pid_alive


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    stack = StackProcess(tmp_path / "data", StackPorts())
    try:
        for name in ("openbao", "temporal", "emulator"):
            stack.wait_for(rf"^ok\s+{name}\s", 120)
        pids = list(stack.state().values())
        assert len(pids) >= 3
        stack.process.send_signal(signal.SIGKILL)
        stack.process.wait(10)
        # The kernel tells each child its parent died (PR_SET_PDEATHSIG); each then stops on SIGTERM.
        deadline = time.monotonic() + 30
        while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in pids if pid_alive(pid)], stack.console()
    finally:
        stack.kill()
