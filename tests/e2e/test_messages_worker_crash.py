"""A worker killed with SIGKILL in the middle of a batch, then started again: every item exactly once.

The `stack` fixture's worker runs in the test process and cannot be killed, so this test runs its own
pair on a task queue of its own: a replica of the API (in this process; the connection workflow runs on
the API's task queue) and the worker as a separate `python worker.py` process, killed for real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET, Stack
from tests.e2e.helpers import (
    CUSTOMER,
    clear_faults,
    eventually,
    replica_settings,
    running_api,
    set_faults,
    settings_environment,
)
from tests.e2e.test_messages import connected_with_recipe, deliver, items
from tests.e2e.test_messages_reliability import wait_items, wait_outcomes

REPO = Path(__file__).resolve().parents[2]
MAILS = 40


class WorkerProcess:
    """`python worker.py` with the given settings as its environment; output kept in a log file."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        env.update(settings_environment(settings))
        env["PYTHONPATH"] = str(REPO)
        self._env = env
        self._log_path = log_path
        self._cwd = settings.data_dir  # not the repository: no .env file is read
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(REPO / "worker.py")],
                env=self._env,
                cwd=self._cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
async def own_queue(stack: Stack, tmp_path: Path) -> AsyncIterator[tuple[Stack, WorkerProcess]]:
    """(a Stack whose API is a replica on a new task queue, that queue's worker process, started)."""
    settings = replica_settings(stack, temporal_task_queue=f"crash-{uuid.uuid4().hex[:8]}")
    redirects = [stack.settings.oauth_redirect_uri]
    app_body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "display_name": "outlook-integration"}
    async with stack.emulator_control() as control:
        r = await control.post(
            "/_emulator/apps", json={**app_body, "redirect_uris": [*redirects, settings.oauth_redirect_uri]}
        )
        assert r.status_code in (200, 201), r.text
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.start()
    try:
        async with running_api(settings) as (_app, url):
            yield dataclasses.replace(stack, settings=settings, api_url=url), worker
    finally:
        await asyncio.to_thread(worker.stop)  # it waits for the process: off the event loop
        await clear_faults(stack)
        async with stack.emulator_control() as control:
            await control.post("/_emulator/apps", json={**app_body, "redirect_uris": redirects})


async def test_worker_killed_mid_batch_then_restarted_makes_every_item_once(
    own_queue: tuple[Stack, WorkerProcess],
) -> None:
    stack, worker = own_queue
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    # Slow Graph down a little so the batch is still running when the worker dies.
    await set_faults(stack, latency_ms=250)
    names = [f"help needed #{n}" for n in range(MAILS)]
    ids = {(await deliver(stack, email, **{"from": CUSTOMER, "subject": name}))["id"] for name in names}

    async def some_items() -> int:
        return len(await items(stack, token, board_id))

    at_kill = await eventually(some_items, timeout=60, what="the first items")
    await asyncio.to_thread(worker.kill)  # waits for the process to end: off the event loop
    assert at_kill < MAILS, "the batch finished before the worker could be killed mid-way"
    survivors = await some_items()
    await clear_faults(stack)
    worker.start()

    made = await wait_items(stack, token, board_id, MAILS)
    logged = await wait_outcomes(stack, token, connection_id, ids)
    final = await items(stack, token, board_id)
    assert survivors < MAILS
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in final) == sorted(names)
    assert len({i["id"] for i in final}) == MAILS
    assert {o["message_id"] for o in logged} == ids
    assert all(o["outcome"] == "processed" for o in logged), logged
