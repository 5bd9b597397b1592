"""The faults, one at a time, each while the standard load flows (chaos/run.py).

Each fault has three moments: `before` the load starts, `inject` once a third of the emails has been
delivered (it returns when the fault is over: the process is back, the outage has ended), and
`after_load` once every email has been delivered. Each sets `run.fault_started` / `run.fault_ended`
(the time to recover is measured from the end). The emulator's faults last until 80% of the expected
items have been made, so that most of the work is done under them on a machine of any speed.

- baseline: no fault; the time from the last email delivered to the last item, for comparison.
- throttle: the emulator answers half of all Graph calls 429 with Retry-After (throttle_rate 0.5).
- drop: the emulator drops 20% of change notifications (each followed by a `missed` lifecycle
  notification; the service catches up by delta).
- repeat: the emulator sends every change notification three times.
- worker-kill: SIGKILL the worker process, then start it again.
- api-kill: SIGKILL one API process (uvicorn's supervisor starts another, as under `make run`).
- revoke: one user revokes consent; that connection must stop with its reason, no other.
- temporal-restart: stop the Temporal dev server (SIGTERM) and start it again on the same port and
  SQLite file.
- openbao-stop: stop OpenBao for 30 s, start it again (raft storage on disk: unsealed with its keys).
- board-store: the built-in board store fails for 60 s: the app database refuses new items (a trigger
  on board_items aborts every insert).
- db-writes: the app database refuses every write for 30 s (triggers abort every INSERT, UPDATE and
  DELETE on every table): the webhook cannot store notifications (it answers 5xx and Graph retries),
  the forwarder cannot hand over, activities cannot record anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.mail.api_process import _APIS, restart_api
from bench.mail.stack import product_worker, temporal_server
from bench.mail.worker_process import READY_LINE
from chaos import checks
from chaos.backlog import wait_until
from chaos.load import Load
from tests.e2e.conftest import Stack
from tests.e2e.helpers import clear_faults, revoke, set_faults

TRIGGER_PREFIX = "chaos_refuse_"


@dataclass
class Run:
    stack: Stack
    load: Load
    # Connections whose mail is not expected (a revoked one).
    excluded: set[str] = field(default_factory=set)
    fault_started: float = 0.0
    fault_ended: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    revoked: str | None = None


class Fault:
    name = ""
    # Seconds the fault lasts, where it has a length (outages).
    seconds: float = 0.0

    async def before(self, run: Run) -> None:
        return None

    async def inject(self, run: Run) -> None:
        run.fault_started = run.fault_ended = time.time()

    async def after_load(self, run: Run) -> None:
        return None


class NoFault(Fault):
    """The same load with no fault: the baseline for the time to recover (from the last email
    delivered to the last item)."""

    name = "baseline"

    async def inject(self, run: Run) -> None:
        return None

    async def after_load(self, run: Run) -> None:
        run.fault_started = run.fault_ended = time.time()


# An emulator fault lasts until this share of the expected items has been made (at most UNDER_FAULT_MAX
# seconds after the last email): the service does most of its work under it, whatever the machine's
# speed, and the time to recover measures the rest.
UNDER_FAULT_SHARE = 0.8
UNDER_FAULT_MAX = 300.0


class EmulatorFault(Fault):
    """Emulator faults last from before the first email until `hold` seconds after the last, and until
    UNDER_FAULT_SHARE of the expected items have been made."""

    def __init__(self, name: str, hold: float, **faults: Any) -> None:
        self.name = name
        self.hold = hold
        self.faults = faults

    async def before(self, run: Run) -> None:
        await set_faults(run.stack, **self.faults)
        run.fault_started = time.time()

    async def inject(self, run: Run) -> None:
        return None

    async def after_load(self, run: Run) -> None:
        await asyncio.sleep(self.hold)
        wanted = int(len(checks.expected_ids(run.load, run.excluded)) * UNDER_FAULT_SHARE)

        async def mostly_made() -> bool:
            return checks.count_made(run.stack, run.load, run.excluded) >= wanted

        await wait_until(f"{wanted} items under the fault", mostly_made, within=UNDER_FAULT_MAX, every=1.0)
        await clear_faults(run.stack)
        run.fault_ended = time.time()


class WorkerKill(Fault):
    name = "worker-kill"

    async def inject(self, run: Run) -> None:
        worker = product_worker(run.stack)
        assert worker.child is not None
        # The log is appended to: the new process is ready when a new "polling" line follows this point.
        mark = worker.log_path.stat().st_size
        run.fault_started = time.time()
        worker.child.send_signal(signal.SIGKILL)
        worker.child.wait()
        worker.child = None
        await asyncio.to_thread(worker.start)

        async def polling() -> bool:
            with worker.log_path.open("rb") as log:
                log.seek(mark)
                return READY_LINE.encode() in log.read()

        await wait_until("the new worker to poll", polling, within=120, every=0.2)
        run.fault_ended = time.time()
        run.notes["worker_back_s"] = round(run.fault_ended - run.fault_started, 1)


def _children(pid: int) -> set[int]:
    """The API's worker processes under uvicorn's supervisor `pid` (multiprocessing's resource tracker,
    also its child, left out)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found |= {int(c) for c in (task / "children").read_text().split()}
    workers: set[int] = set()
    for child in found:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in command:
                workers.add(child)
    return workers


async def _healthy(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get(f"{url}/healthz")).status_code == 200
    return False


class ApiKill(Fault):
    """SIGKILL one of the API's processes: uvicorn's supervisor starts a new one (as under `make run`);
    if it does not within 30 s, the whole API is started again."""

    name = "api-kill"

    async def inject(self, run: Run) -> None:
        url = run.stack.api_url
        service = _APIS[url]
        assert service.child is not None
        master = service.child.pid
        before = _children(master)
        victim = min(before) if before else master
        run.fault_started = time.time()
        os.kill(victim, signal.SIGKILL)
        run.notes["killed"] = "an API worker process" if before else "the API process"
        deadline = time.monotonic() + 30
        replaced = False
        while time.monotonic() < deadline:
            now = _children(master)
            if before and victim not in now and len(now) >= len(before):
                replaced = True
                break
            await asyncio.sleep(0.2)
        if not replaced:
            await asyncio.to_thread(restart_api, url)
            run.notes["restarted_by"] = "the chaos suite"
        else:
            run.notes["restarted_by"] = "uvicorn's supervisor"
        await wait_until("the API to answer", lambda: _healthy(url), within=60, every=0.2)
        run.fault_ended = time.time()


class Revoke(Fault):
    name = "revoke"

    async def inject(self, run: Run) -> None:
        # Not the sender (its outgoing recipe is checked), any other.
        box = run.load.boxes[1] if len(run.load.boxes) > 1 else run.load.boxes[0]
        run.fault_started = run.fault_ended = time.time()
        await revoke(run.stack, box.email, "consent_revoked")
        run.excluded.add(box.connection_id)
        run.revoked = box.connection_id


class TemporalRestart(Fault):
    name = "temporal-restart"

    async def inject(self, run: Run) -> None:
        server = temporal_server(run.stack)
        run.fault_started = time.time()
        await asyncio.to_thread(server.stop)
        await server.start()
        run.fault_ended = time.time()
        run.notes["temporal_back_s"] = round(run.fault_ended - run.fault_started, 1)


class OpenBaoStop(Fault):
    name = "openbao-stop"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def inject(self, run: Run) -> None:
        openbao = run.stack.openbao
        run.fault_started = time.time()
        await asyncio.to_thread(openbao.stop)
        await asyncio.sleep(self.seconds)
        await asyncio.to_thread(openbao.start)
        run.fault_ended = time.time()


def _tables(stack: Stack) -> list[str]:
    with stack.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
            )
        )
        return [str(r[0]) for r in rows]


def refuse_writes(stack: Stack, tables: list[str], events: tuple[str, ...]) -> list[str]:
    """Triggers that abort every `events` (INSERT, UPDATE, DELETE) on `tables`; returns their names."""
    names: list[str] = []
    with stack.engine.begin() as conn:
        for table in tables:
            for event in events:
                name = f"{TRIGGER_PREFIX}{table}_{event.lower()}"
                conn.execute(
                    text(
                        f'CREATE TRIGGER IF NOT EXISTS "{name}" BEFORE {event} ON "{table}" '
                        "BEGIN SELECT RAISE(ABORT, 'chaos: the database refuses writes'); END"
                    )
                )
                names.append(name)
    return names


def allow_writes(stack: Stack, names: list[str]) -> None:
    with stack.engine.begin() as conn:
        for name in names:
            conn.execute(text(f'DROP TRIGGER IF EXISTS "{name}"'))


class RefuseWrites(Fault):
    def __init__(self, name: str, seconds: float, tables: list[str] | None, events: tuple[str, ...]) -> None:
        self.name = name
        self.seconds = seconds
        self.tables = tables
        self.events = events

    async def inject(self, run: Run) -> None:
        tables = self.tables if self.tables is not None else _tables(run.stack)
        run.fault_started = time.time()
        names = await asyncio.to_thread(refuse_writes, run.stack, tables, self.events)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            await asyncio.to_thread(allow_writes, run.stack, names)
        run.fault_ended = time.time()
        run.notes["tables_refused"] = len(tables)


ALL_WRITES = ("INSERT", "UPDATE", "DELETE")


def catalogue(
    *, hold: float, openbao_seconds: float, board_seconds: float, db_seconds: float
) -> dict[str, Fault]:
    """Every fault by name, in the order `make chaos` runs them (cheapest first)."""
    faults: list[Fault] = [
        NoFault(),
        EmulatorFault("throttle", hold, throttle_rate=0.5, throttle_seed=14),
        EmulatorFault("drop", hold, drop_rate=0.2, drop_seed=14),
        EmulatorFault("repeat", hold, duplicate_notifications=2),
        WorkerKill(),
        ApiKill(),
        Revoke(),
        TemporalRestart(),
        OpenBaoStop(openbao_seconds),
        RefuseWrites("board-store", board_seconds, ["board_items"], ("INSERT",)),
        RefuseWrites("db-writes", db_seconds, None, ALL_WRITES),
    ]
    return {f.name: f for f in faults}
