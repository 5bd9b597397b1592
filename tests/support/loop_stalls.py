"""Fails a test during which the event loop ran one callback for 100 ms or longer.

A callback that long means something blocked the loop (a synchronous database call, a sleep, CPU-bound
work) and every request, signal and activity sharing the loop waited for it. asyncio measures this
itself in debug mode: it logs "Executing <callback> took X seconds" on the "asyncio" logger when a
callback runs for `slow_callback_duration` or longer. The `no_loop_stalls` fixture turns that on for one
test (the loop is session-scoped and shared, so it is set on the running loop and put back afterwards),
keeps those warnings, and fails the test naming each callback and the code that blocked it: a watchdog
thread samples the loop thread's stack while a callback runs (asyncio names only the task).

asyncio's figure is wall-clock time. Here the tests share two cores with servers and other processes,
and in one process the API, the worker and the test share the GIL and the heap, so a callback that does
little can still take 100 ms to return. What is compared with 100 ms is the callback's own time:
- the CPU the loop thread used (Linux's per-thread schedstat), less garbage collection (the whole
  process's heap, measured with gc.callbacks);
- the time it was blocked in a system call (sleeping, waiting for a socket, a disk or a lock): the part
  of its time off a CPU that the samples (/proc's syscall) show blocked rather than waiting for the GIL.
Waiting for a CPU or for the GIL is not its own. Work outside the product that is legitimately slow
once, or exists only because debug mode is on, is listed in `EXCUSED`: the share of the samples inside
it is taken out too, and the rest of the same callback still counts. Elsewhere than Linux, the
wall-clock time counts (excuses aside).

Stalls while the test's function-scoped fixtures are set up or while it runs fail the test; stalls while
they are torn down fail the teardown. Session fixtures (the servers) are set up before the check is on,
so their startup is not measured.

Applied by an autouse fixture in the conftest.py of tests/api, tests/e2e and tests/webhooks, and by
`pytestmark = pytest.mark.usefixtures("no_loop_stalls")` in other modules that run the real worker or
API in the test's loop. Registered for every test by tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import linecache
import logging
import platform
import sys
import threading
import time
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import pytest

SLOW_CALLBACK_SECONDS = 0.1
# asyncio's own message (BaseEventLoop._run_once, debug mode only).
_SLOW_CALLBACK_MESSAGE = "Executing %s took %.3f seconds"
_SAMPLE_EVERY = 0.01
_ASYNC_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
# Frames shown of a stall's stack: the innermost ones, and the async function that made the call.
_INNER_FRAMES = 8
# The system call a thread waits in for a lock or for the GIL, as /proc numbers it on this machine.
_FUTEX = {"x86_64": "202", "aarch64": "98"}.get(platform.machine())
# Python code waits on a lock (rather than for the GIL) when its innermost frame is in one of these.
_LOCK_WAITS = ("/threading.py", "/queue.py", "concurrent/futures/_base.py")


@dataclass(frozen=True)
class Excuse:
    """Not the product's doing: a sample whose stack has one of `frames` (file name ending, function
    name) is inside it."""

    reason: str
    frames: tuple[tuple[str, str], ...]


EXCUSED = (
    Excuse(
        # An import inside a function runs once per process; every later call finds the module loaded.
        "first import of a module",
        (("<frozen importlib._bootstrap>", "_find_and_load"),),
    ),
    Excuse(
        # FastAPI builds a router's routes (dependency signatures) on the first request that reaches
        # it, once per app: in production once per process, here once per test (each makes its app).
        "FastAPI building an app's routes on its first request",
        (("fastapi/routing.py", "effective_candidates"), ("fastapi/routing.py", "_build_effective_context")),
    ),
    Excuse(
        # Loading CA certificates into a new SSL context (certifi's bundle: ~100 ms) happens once per
        # HTTP client; the product builds its clients once per process, tests build short-lived ones.
        "loading CA certificates into a new SSL context",
        (("/ssl.py", "create_default_context"), ("/ssl.py", "load_default_certs")),
    ),
    Excuse(
        # The Temporal SDK names a worker's build by hashing the code of every loaded module (seconds),
        # once per process, when the first Worker is built: the worker does it before it polls.
        "temporalio computing the default build id",
        (("temporalio/worker/_worker.py", "load_default_build_id"),),
    ),
    Excuse(
        # A thread pool (asyncio's, anyio's for sync routes) starting a thread waits until the thread
        # runs, once per pool thread: on a busy machine, until the new thread gets a CPU.
        "a thread pool starting a thread",
        (("/threading.py", "start"),),
    ),
    Excuse(
        # Debug mode records where every handle, future and task was created (a stack walk that
        # stats each file): only these tests pay for it, production does not run in debug mode.
        "asyncio debug mode recording where callbacks were created",
        (("asyncio/format_helpers.py", "extract_stack"),),
    ),
)

RUNNING, BLOCKED, GIL = "running", "blocked", "gil"


@dataclass(frozen=True)
class _Frame:
    filename: str
    lineno: int
    name: str
    is_async: bool

    def format(self) -> str:
        line = linecache.getline(self.filename, self.lineno).strip()
        marker = " (async)" if self.is_async else ""
        return f'    File "{self.filename}", line {self.lineno}, in {self.name}{marker}\n      {line}'


@dataclass(frozen=True)
class _Sample:
    """What the loop thread was doing at a tick of the watchdog, standing for the time since the last."""

    frames: tuple[_Frame, ...]  # the callback's, outermost first (the loop's own frames left out)
    state: str  # RUNNING, BLOCKED (sleep, I/O, a lock) or GIL (waiting for another thread's GIL)
    seconds: float
    excuse: str | None

    def format(self) -> str:
        inner = list(self.frames[-_INNER_FRAMES:])
        # The async function whose synchronous call blocked, if it is further out than that.
        caller = next((f for f in reversed(self.frames) if f.is_async), None)
        if caller is not None and caller not in inner:
            return "\n".join([caller.format(), "    ...", *(f.format() for f in inner)])
        return "\n".join(f.format() for f in inner)


def _sample(frame: FrameType | None, syscall: str | None, seconds: float) -> _Sample | None:
    """None when the loop thread is not inside a callback (between two, or logging the last one)."""
    frames: list[_Frame] = []
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_run" and code.co_filename.endswith("asyncio/events.py"):  # Handle._run
            break
        frames.append(
            _Frame(code.co_filename, frame.f_lineno, code.co_name, bool(code.co_flags & _ASYNC_CODE))
        )
        frame = frame.f_back
    if frame is None:
        return None
    frames.reverse()
    state = RUNNING if syscall is None else BLOCKED
    if syscall == _FUTEX and not (frames and frames[-1].filename.endswith(_LOCK_WAITS)):
        # Not a lock the code waits on: the GIL, held by another thread, between two bytecodes.
        state = GIL
    return _Sample(tuple(frames), state, seconds, _excuse(frames))


def _excuse(frames: list[_Frame]) -> str | None:
    for excuse in EXCUSED:
        for filename, name in excuse.frames:
            if any(f.name == name and f.filename.endswith(filename) for f in frames):
                return excuse.reason
    return None


def _share(samples: list[_Sample], *, by_time: bool = False) -> float:
    """The part of these samples (by count or by time) that is not excused; 1.0 without samples."""
    weights = [(s.seconds if by_time else 1.0, s.excuse is None) for s in samples]
    total = sum(w for w, _ in weights)
    return sum(w for w, counted in weights if counted) / total if total else 1.0


@dataclass(frozen=True)
class _Times:
    """The loop thread's counters: seconds on a CPU, waiting for one, and collecting garbage."""

    on_cpu: float
    waiting_for_cpu: float
    collecting: float

    def __sub__(self, other: _Times) -> _Times:
        return _Times(
            self.on_cpu - other.on_cpu,
            self.waiting_for_cpu - other.waiting_for_cpu,
            self.collecting - other.collecting,
        )


@dataclass(frozen=True)
class Stall:
    callback: str
    seconds: float  # wall-clock, as asyncio measured it
    times: _Times | None = None  # the loop thread's meanwhile (None: Linux could not say)
    samples: tuple[_Sample, ...] = ()

    def _of(self, state: str) -> list[_Sample]:
        return [s for s in self.samples if s.state == state]

    @property
    def blocked(self) -> float:
        """The time off a CPU (not waiting for one) that the samples show blocked rather than waiting
        for the GIL. A blocked thread holds no GIL, so the watchdog samples it freely: a callback it
        never caught off a CPU was not blocked."""
        assert self.times is not None
        off_cpu = max(self.seconds - self.times.on_cpu - self.times.waiting_for_cpu, 0.0)
        blocked = sum(s.seconds for s in self._of(BLOCKED))
        waiting = blocked + sum(s.seconds for s in self._of(GIL))
        return off_cpu * blocked / waiting if waiting else 0.0

    @property
    def own_seconds(self) -> float:
        """The CPU it used (less garbage collection) and the time it was blocked, less the excused share
        of each."""
        if self.times is None:
            return self.seconds * _share(list(self.samples))
        cpu = max(self.times.on_cpu - self.times.collecting, 0.0) * _share(self._of(RUNNING))
        return cpu + self.blocked * _share(self._of(BLOCKED), by_time=True)

    def describe(self) -> str:
        text = f"- {self.seconds:.3f} s in {self.callback}\n  ({self.own_seconds:.3f} s its own"
        if self.times is not None:
            text += f": {self.times.on_cpu:.3f} s on a CPU, {self.blocked:.3f} s blocked"
            if self.times.collecting >= 0.001:
                text += f", {self.times.collecting:.3f} s collecting garbage"
        excused = sorted({s.excuse for s in self.samples if s.excuse})
        text += f"; less what is excused: {', '.join(excused)})" if excused else ")"
        counted = [s for s in self.samples if s.excuse is None and s.state != GIL]
        if counted:
            # The last blocked sample if any, else the last: closest to what made the callback slow.
            shown = next((s for s in reversed(counted) if s.state == BLOCKED), counted[-1])
            text += "\n  blocked in:\n" + shown.format()
        return text


class _LoopThread:
    """What Linux and the garbage collector say about the thread that runs the loop (created in it)."""

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self._task = Path(f"/proc/self/task/{threading.get_native_id()}")
        self._collecting = 0.0
        self._collection_started: float | None = None

    def times(self) -> _Times | None:
        try:
            on_cpu, waiting = (self._task / "schedstat").read_text().split()[:2]
        except (OSError, ValueError):
            return None
        return _Times(int(on_cpu) / 1e9, int(waiting) / 1e9, self._collecting)

    def syscall(self) -> str | None:
        """The number of the system call it waits in; None while it runs (or where /proc cannot say)."""
        try:
            call = (self._task / "syscall").read_text().split()[0]
        except (OSError, IndexError):
            return None
        return None if call == "running" else call

    def on_gc(self, phase: str, _info: dict[str, Any]) -> None:
        """gc.callbacks: times the collections that run in this thread (their CPU, near enough)."""
        if threading.get_ident() != self.ident:
            return
        if phase == "start":
            self._collection_started = time.thread_time()
        elif self._collection_started is not None:
            self._collecting += time.thread_time() - self._collection_started
            self._collection_started = None


class _Watchdog(threading.Thread):
    """Every 10 ms while the loop runs a callback: the loop thread's stack and state, kept for as long as
    the same callback runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, loop_thread: _LoopThread) -> None:
        super().__init__(name="loop-stall-watchdog", daemon=True)
        self._loop = loop
        self._loop_thread = loop_thread
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._handle: object = None
        self._samples: list[_Sample] = []

    def run(self) -> None:
        last_tick = time.monotonic()
        while not self._stopping.wait(_SAMPLE_EVERY):
            now = time.monotonic()
            seconds, last_tick = now - last_tick, now
            # Set by the loop around each callback, in debug mode only (private, but there since 3.4).
            handle = getattr(self._loop, "_current_handle", None)
            if handle is None:
                continue
            syscall = self._loop_thread.syscall()
            sample = _sample(sys._current_frames().get(self._loop_thread.ident), syscall, seconds)
            with self._lock:
                if handle is not self._handle:
                    self._handle, self._samples = handle, []
                if sample is not None:
                    self._samples.append(sample)

    def samples_of(self, handle: object) -> tuple[_Sample, ...]:
        with self._lock:
            return tuple(self._samples) if handle is not None and handle is self._handle else ()

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        # The last callback's handle holds its future and, in debug mode, the stack it was created in.
        self._handle, self._samples = None, []


class LoopStallGuard(logging.Handler):
    """While entered: debug mode on the loop, and its slow-callback warnings kept as `Stall`s, those
    that count (own time of `threshold` or more) and those that do not."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float = SLOW_CALLBACK_SECONDS) -> None:
        super().__init__(logging.WARNING)
        self.loop = loop
        self.threshold = threshold
        self.stalls: list[Stall] = []
        self.excused: list[Stall] = []
        self._thread = _LoopThread()
        self._watchdog = _Watchdog(loop, self._thread)
        self._saved: tuple[bool, float, int] = (False, 0.0, logging.NOTSET)
        # The loop thread's counters at its last heartbeat: a slow callback started after it (none runs
        # during one), so what accrued since is the callback's, or at most 10 ms more.
        self._at_beat: _Times | None = None
        self._beat: asyncio.TimerHandle | None = None

    def _heartbeat(self) -> None:
        self._at_beat = self._thread.times()
        self._beat = self.loop.call_later(_SAMPLE_EVERY, self._heartbeat)

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != _SLOW_CALLBACK_MESSAGE or not isinstance(record.args, tuple):
            return
        callback, seconds = record.args
        assert isinstance(seconds, float)
        # Logged by the loop right after the slow callback, which is still its current handle.
        samples = self._watchdog.samples_of(getattr(self.loop, "_current_handle", None))
        now, before = self._thread.times(), self._at_beat
        times = now - before if now is not None and before is not None else None
        stall = Stall(str(callback), seconds, times, samples)
        (self.stalls if stall.own_seconds >= self.threshold else self.excused).append(stall)

    def take(self) -> list[Stall]:
        """The stalls that count, recorded since the last call."""
        stalls, self.stalls = self.stalls, []
        return stalls

    def __enter__(self) -> LoopStallGuard:
        asyncio_log = logging.getLogger("asyncio")
        self._saved = (self.loop.get_debug(), self.loop.slow_callback_duration, asyncio_log.level)
        self.loop.set_debug(True)
        self.loop.slow_callback_duration = self.threshold
        if not asyncio_log.isEnabledFor(logging.WARNING):
            asyncio_log.setLevel(logging.WARNING)
        asyncio_log.addHandler(self)
        gc.callbacks.append(self._thread.on_gc)
        self._heartbeat()
        self._watchdog.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._watchdog.stop()
        if self._beat is not None:
            self._beat.cancel()
        gc.callbacks.remove(self._thread.on_gc)
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.removeHandler(self)
        debug, duration, level = self._saved
        asyncio_log.setLevel(level)
        self.loop.slow_callback_duration = duration
        self.loop.set_debug(debug)


def describe(stalls: list[Stall]) -> str:
    return (
        f"a callback held the event loop for {SLOW_CALLBACK_SECONDS * 1000:.0f} ms or longer "
        f"{len(stalls)} time(s); run blocking calls off the loop (asyncio.to_thread, a sync route):\n"
        + "\n".join(s.describe() for s in stalls)
    )


_GUARD = pytest.StashKey[LoopStallGuard]()


@pytest.fixture
async def no_loop_stalls(request: pytest.FixtureRequest) -> AsyncIterator[LoopStallGuard]:
    """Fails the test if the event loop stalls while it runs (see the module docstring)."""
    with LoopStallGuard(asyncio.get_running_loop()) as guard:
        request.node.stash[_GUARD] = guard
        yield guard
    # The test's item lives until the session ends: what the guard kept (stalls, samples, the last
    # callback) would pile up over the session's two thousand tests and slow every garbage collection.
    del request.node.stash[_GUARD]
    # Left over: recorded after the test's report was made, while its fixtures were torn down.
    late = guard.take()
    if late:
        pytest.fail("while tearing down the test's fixtures, " + describe(late), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    guard = item.stash.get(_GUARD, None)
    if guard is None or call.when != "call":
        return report
    stalls = guard.take()
    if stalls:
        if report.passed:
            report.outcome = "failed"
            report.longrepr = describe(stalls)
        else:
            report.sections.append(("event loop stalls", describe(stalls)))
    return report
