"""Child processes in their own process group, so stopping one stops everything it started."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: on Linux the kernel sends SIGTERM to the child if the supervisor itself dies,
    even by SIGKILL, so a crashed supervisor leaves no orphans holding ports."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def signal_group(pid: int, sig: int) -> None:
    """Signals the process group led by pid (children started with start_new_session=True)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop_popen(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int | None:
    """SIGTERM to the group, wait, then SIGKILL. Returns the exit code (negative for a signal)."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    if process.poll() is None:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
    # Anything left in the group (grandchildren) goes too.
    signal_group(process.pid, signal.SIGKILL)
    return process.returncode


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"
