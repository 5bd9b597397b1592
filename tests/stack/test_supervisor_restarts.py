"""The supervisor's restart loop on small real processes: why a part died, backoff, recovery, clean stop."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from pathlib import Path

from config.settings import Settings
from stack.child import Child
from stack.config import StackPaths, StackSettings
from stack.console import Console
from stack.openbao import OpenBaoLayout
from stack.parts import Service, Stack, Step
from stack.supervisor import Supervisor
from stack.temporal import TemporalDevServer
from tests.stack.stack_process import pid_alive


def _stack(tmp_path: Path, stages: list[list[Service | Step]]) -> Stack:
    settings = StackSettings(restart_backoff_initial=0.2, restart_backoff_max=0.8, health_timeout=10)
    paths = StackPaths(tmp_path)
    return Stack(
        settings=settings,
        paths=paths,
        service=Settings(data_dir=tmp_path),
        openbao=OpenBaoLayout(data_dir=paths.openbao),
        temporal=TemporalDevServer(data_dir=paths.temporal),
        stages=stages,
    )


async def _alive(child: Child) -> None:
    if child.returncode is not None:
        raise RuntimeError("not running")


async def _said_ready(child: Child) -> None:
    if "ready" not in child.tail:
        raise RuntimeError("not ready yet")


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def _wait_for(console: io.StringIO, pattern: str, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not re.search(pattern, console.getvalue(), flags=re.MULTILINE):
            await asyncio.sleep(0.05)


async def test_crashing_part_is_reported_and_restarted_with_growing_backoff(tmp_path: Path) -> None:
    # Healthy at once, then dies with code 3 after its last words.
    flaky = Service(
        "flaky",
        "nowhere",
        _python("import time; time.sleep(0.3); print('giving up now', flush=True); raise SystemExit(3)"),
        _alive,
    )
    steady = Service("steady", "nowhere", _python("import time; time.sleep(600)"), _alive)
    out = io.StringIO()
    supervisor = Supervisor(_stack(tmp_path, [[steady, flaky]]), Console(out))
    run = asyncio.create_task(supervisor.run())
    try:
        await _wait_for(out, r"^restart\s+flaky\s+in 0\.8 s")
        steady_pid = supervisor.children["steady"].pid
    finally:
        supervisor.stop_requested.set()
        assert await run == 0
    text = out.getvalue()
    assert re.search(r"^died\s+flaky\s+exit code 3 \(pid \d+, up \d+\.\d s\)", text, re.MULTILINE)
    assert "  giving up now" in text  # the last lines of its log, under the report
    delays = re.findall(r"^restart\s+flaky\s+in (\S+) s", text, flags=re.MULTILINE)
    assert delays[:3] == ["0.2", "0.4", "0.8"]
    assert re.search(r"^restarted\s+flaky\s+", text, re.MULTILINE)
    # The healthy neighbour was never touched until the stop.
    assert "died      steady" not in text
    assert re.search(r"^stopped\s+steady\s+", text, re.MULTILINE)
    assert not pid_alive(steady_pid)
    assert "giving up now" in (tmp_path / "logs" / "flaky.log").read_text()


async def test_a_dead_parts_own_children_go_before_it_restarts(tmp_path: Path) -> None:
    # Like `uvicorn --workers`: a parent whose worker process would outlive it (and keep its port).
    parent = Service(
        "parent",
        "nowhere",
        _python(
            "import subprocess, sys, time;"
            " w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
            " print(f'worker {w.pid}', flush=True); time.sleep(600)"
        ),
        _said_worker,
    )
    out = io.StringIO()
    supervisor = Supervisor(_stack(tmp_path, [[parent]]), Console(out))
    run = asyncio.create_task(supervisor.run())
    try:
        await _wait_for(out, r"^ok\s+parent")
        first = supervisor.children["parent"]
        worker_pid = _worker_pid(first)
        assert pid_alive(worker_pid)
        os.kill(first.pid, signal.SIGKILL)
        await _wait_for(out, r"^restarted\s+parent")
        assert not pid_alive(worker_pid)
        assert pid_alive(_worker_pid(supervisor.children["parent"]))
    finally:
        supervisor.stop_requested.set()
        assert await run == 0


async def _said_worker(child: Child) -> None:
    _worker_pid(child)


def _worker_pid(child: Child) -> int:
    found = [int(line.split()[1]) for line in child.tail if line.startswith("worker ")]
    if not found:
        raise RuntimeError("no worker yet")
    return found[-1]


async def test_part_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    stubborn = Service(
        "stubborn",
        "nowhere",
        _python(
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(600)"
        ),
        # Healthy only once SIGTERM is ignored, or the stop could come first.
        _said_ready,
    )
    stack = _stack(tmp_path, [[stubborn]])
    stack.settings.stop_timeout = 1.0
    out = io.StringIO()
    supervisor = Supervisor(stack, Console(out))
    run = asyncio.create_task(supervisor.run())
    await _wait_for(out, r"^ok\s+stubborn")
    pid = supervisor.children["stubborn"].pid
    supervisor.stop_requested.set()
    assert await run == 0
    assert re.search(r"^stopped\s+stubborn\s+killed by SIGKILL", out.getvalue(), re.MULTILINE)
    assert not pid_alive(pid)


async def test_failing_step_stops_the_stack_with_its_output(tmp_path: Path) -> None:
    server = Service("server", "nowhere", _python("import time; time.sleep(600)"), _alive)
    step = Step("migrate", _python("print('no such table: users'); raise SystemExit(2)"), service_env=False)
    never = Service("never", "nowhere", _python("import time; time.sleep(600)"), _alive)
    out = io.StringIO()
    supervisor = Supervisor(_stack(tmp_path, [[server], [step], [never]]), Console(out))
    assert await supervisor.run() == 1
    text = out.getvalue()
    assert re.search(r"^FAIL\s+migrate\s+failed: exit code 2", text, re.MULTILINE)
    assert "  no such table: users" in text
    assert re.search(r"^FAIL\s+stack\s+migrate did not start", text, re.MULTILINE)
    assert re.search(r"^stopped\s+server", text, re.MULTILINE)
    assert "never" not in text
