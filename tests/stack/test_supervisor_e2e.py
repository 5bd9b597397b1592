"""The proof of issue 2: `python -m stack` runs the whole real stack, survives SIGKILL of any child,
stops cleanly on Ctrl-C with no process left, and a second run resumes with the same admin and data."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from stack.health import trust
from stack.temporal import check_temporal
from tests.stack.stack_process import URLS_DONE, StackPorts, StackProcess, pid_alive

SERVICES = ["openbao", "temporal", "emulator", "api", "worker"]
# The order children are killed in: the leaves first, the servers everything depends on last.
KILL_ORDER = ["worker", "api", "emulator", "temporal", "openbao"]
START_TIMEOUT = 150.0
RESTART_TIMEOUT = 60.0


def _check_part(name: str, ports: StackPorts, data_dir: Path) -> None:
    """Each part answers on its own terms, checked here independently of the supervisor."""
    if name == "openbao":
        # 200 only when initialised, unsealed and active.
        assert httpx.get(f"http://127.0.0.1:{ports.openbao}/v1/sys/health").status_code == 200
    elif name == "temporal":
        asyncio.run(check_temporal(f"127.0.0.1:{ports.temporal}"))
    elif name == "emulator":
        ca = trust(data_dir / "emulator" / "ca.pem")
        assert httpx.get(f"https://127.0.0.1:{ports.emulator}/_emulator/health", verify=ca).status_code == 200
    elif name == "api":
        assert httpx.get(f"http://127.0.0.1:{ports.api}/healthz").status_code == 200


def _readyz(ports: StackPorts) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{ports.api}/readyz", timeout=10)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.timeout(420)
def test_stack_runs_survives_sigkill_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = StackPorts()
    seen_pids: set[int] = set()

    stack = StackProcess(data_dir, ports)
    try:
        stack.wait_for(URLS_DONE, START_TIMEOUT)
        for name in SERVICES:
            # One line per part as it became healthy, with its startup time.
            stack.wait_for(rf"^ok\s+{name}\s+\S+.*\(\d+\.\d s, pid \d+\)", 1)
        stack.wait_for(r"^ok\s+bootstrap\s+admin created", 1)
        stack.wait_for(rf"Sign in\s+http://127\.0\.0\.1:{ports.api}/", 1)
        assert _readyz(ports).status_code == 200, _readyz(ports).text
        # The API runs as API_WORKERS (default 2) uvicorn worker processes under one parent.
        assert _wait_api_workers(stack.state()["api"], Settings().api_workers) == Settings().api_workers
        ui = httpx.get(f"http://127.0.0.1:{ports.temporal_ui}/", follow_redirects=True, timeout=10)
        assert ui.status_code == 200 and "<html" in ui.text.lower()
        _check_metrics(stack, ports)
        # Startup times, visible with `pytest -rP`.
        print("\n".join(line for line in stack.lines if line.startswith(("ok ", "all parts"))))

        for name in KILL_ORDER:
            pid = stack.state()[name]
            seen_pids.add(pid)
            since = stack.mark()
            os.kill(pid, signal.SIGKILL)
            stack.wait_for(rf"^died\s+{name}\s+killed by SIGKILL \(pid {pid},", RESTART_TIMEOUT, since)
            stack.wait_for(rf"^restarted\s+{name}\s", RESTART_TIMEOUT, since)
            new_pid = stack.state()[name]
            assert new_pid != pid and pid_alive(new_pid)
            seen_pids.add(new_pid)
            _check_part(name, ports, data_dir)

        # Everything restarted still works together (the worker polls, Vault unsealed, ...).
        assert _wait_ready(ports), _readyz(ports).text
        seen_pids.update(stack.state().values())
        admin_token = (data_dir / "admin-token").read_bytes()

        assert stack.stop(signal.SIGINT) == 0, stack.console()
        stack.wait_for(r"^stopped\s+openbao", 1)
        left = [pid for pid in seen_pids if pid_alive(pid)]
        assert not left, f"processes left running: {left}"
        busy = [port for port in ports.all() if not _port_free(port)]
        assert not busy, f"ports still bound: {busy}"
    finally:
        stack.kill()

    again = StackProcess(data_dir, ports)
    try:
        again.wait_for(URLS_DONE, START_TIMEOUT)
        again.wait_for(r"^ok\s+bootstrap\s+admin exists", 1)
        assert (data_dir / "admin-token").read_bytes() == admin_token
        assert _wait_ready(ports), _readyz(ports).text
        assert again.stop(signal.SIGTERM) == 0, again.console()
    finally:
        again.kill()

    _check_json_logs(data_dir)
    # No secret the stack handled reached a log file or the console.
    secrets = _secrets(data_dir)
    assert len(secrets) == 5
    outputs = {path.name: path.read_text(errors="replace") for path in (data_dir / "logs").glob("*.log")}
    outputs["console"] = "\n".join(stack.lines + again.lines)
    leaks = [
        (name, where) for name, value in secrets.items() for where, text in outputs.items() if value in text
    ]
    assert not leaks, f"secrets in output: {leaks}"


def _check_metrics(stack: StackProcess, ports: StackPorts) -> None:
    """Both metrics URLs are printed and answer: the API's (its workers summed), the worker's with the
    Temporal SDK's own (the worker has polled by now)."""
    api_url = f"http://127.0.0.1:{ports.api}/metrics"
    worker_url = f"http://127.0.0.1:{ports.worker_metrics}/metrics"
    stack.wait_for(rf"Metrics\s+{api_url}", 1)
    stack.wait_for(rf"Metrics\s+{worker_url}", 1)
    api = httpx.get(api_url, timeout=10)
    assert api.status_code == 200 and "outlook_outbox_depth" in api.text, api.text[:500]
    worker = httpx.get(worker_url, timeout=10)
    assert worker.status_code == 200, worker.text[:500]
    assert "temporal_num_pollers" in worker.text and "outlook_graph_requests" in worker.text


def _check_json_logs(data_dir: Path) -> None:
    """The API's and the worker's log files are JSON lines, one record each, across restarts."""
    for part in ("api", "worker"):
        lines = (data_dir / "logs" / f"{part}.log").read_text().splitlines()
        assert len(lines) > 3, lines
        for line in lines:
            record = json.loads(line)
            assert {"time", "level", "logger", "message"} <= record.keys(), line


def _secrets(data_dir: Path) -> dict[str, str]:
    init = json.loads((data_dir / "openbao" / "init.json").read_text())
    approle = json.loads((data_dir / "openbao" / "approle.json").read_text())
    return {
        "unseal key": init["unseal_key"],
        "root token": init["root_token"],
        "secret_id": approle["secret_id"],
        "admin token": (data_dir / "admin-token").read_text().strip(),
        "client secret": Settings().ms_client_secret.get_secret_value(),
    }


def _api_workers(parent_pid: int) -> list[int]:
    """Live processes that uvicorn started for its workers (multiprocessing's spawn_main) under parent_pid."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent_pid and b"spawn_main" in cmdline and pid_alive(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def _wait_api_workers(parent_pid: int, expected: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while len(_api_workers(parent_pid)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return len(_api_workers(parent_pid))


def _wait_ready(ports: StackPorts, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _readyz(ports).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False
