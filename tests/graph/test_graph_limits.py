"""Per-mailbox limits: at most 4 concurrent calls, and Retry-After honoured exactly, never sooner.

Limiter behaviour is checked on its own with asyncio, then end to end against a dedicated emulator
(faults are global to an emulator, so these tests never touch the shared one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from graph.errors import Throttled, parse_retry_after
from graph.http_client import build_http_client
from graph.limits import MailboxLimiter, logged_holds
from graph.mail import GraphMail
from graph.request_ids import sent_at
from tests.graph.support import connect, control, register_app
from tests.support.emulator_server import RunningEmulator, start_emulator

# --- the limiter alone ---


async def test_at_most_four_concurrent_per_mailbox_and_others_unaffected() -> None:
    limiter = MailboxLimiter()
    active: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def call(key: str) -> None:
        async with limiter.slot(key):
            active[key] += 1
            peak[key] = max(peak[key], active[key])
            await asyncio.sleep(0.05)
            active[key] -= 1

    await asyncio.gather(*(call("a") for _ in range(12)), *(call("b") for _ in range(3)))
    assert peak == {"a": 4, "b": 3}


async def test_gate_holds_new_and_queued_calls_until_the_instant() -> None:
    limiter = MailboxLimiter(max_concurrent=1)
    starts: list[float] = []

    async def call() -> None:
        async with limiter.slot("m"):
            starts.append(time.monotonic())

    async with limiter.slot("m"):
        queued = asyncio.create_task(call())  # waiting for the slot when the 429 arrives
        await asyncio.sleep(0.01)
        limiter.defer("m", 0.3)
        gate = limiter.not_before("m")
    await asyncio.gather(queued, call(), call())
    assert len(starts) == 3 and min(starts) >= gate


def test_a_shorter_retry_after_never_moves_the_gate_earlier() -> None:
    limiter = MailboxLimiter()
    limiter.defer("m", 5)
    gate = limiter.not_before("m")
    limiter.defer("m", 0.01)
    assert limiter.not_before("m") == gate
    assert limiter.not_before("other") == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2.128", 2.128), ("0", 0.0), ("7", 7.0), ("-3", 0.0), ("soon", None), (None, None)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


# --- end to end against the emulator ---


@dataclass
class Recorder:
    """What the shared httpx client really sent and received, with monotonic times."""

    starts: list[tuple[float, str]] = field(default_factory=list)
    # (wall time the request left, its client-request-id)
    request_ids: list[tuple[float, str]] = field(default_factory=list)
    answers: list[tuple[float, int, float | None]] = field(default_factory=list)
    inflight: int = 0
    peak: int = 0

    async def on_request(self, request: httpx.Request) -> None:
        self.starts.append((time.monotonic(), request.url.path))
        self.request_ids.append((time.time(), request.headers.get("client-request-id", "")))
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)

    async def on_response(self, response: httpx.Response) -> None:
        self.inflight -= 1
        ra = parse_retry_after(response.headers.get("Retry-After"))
        self.answers.append((time.monotonic(), response.status_code, ra))

    def assert_gates_honoured(self) -> int:
        """Every request started no sooner than each earlier 429 answer + its Retry-After."""
        throttles = [(t, ra) for t, status, ra in self.answers if status == 429 and ra is not None]
        for answered_at, ra in throttles:
            for started_at, _path in self.starts:
                if started_at > answered_at:
                    assert started_at >= answered_at + ra, (started_at - answered_at, ra)
        return len(throttles)


@pytest.fixture(scope="module")
def fault_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    emu = start_emulator(tmp_path_factory.mktemp("graph-faults"), no_snapshot=True)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
async def faults(fault_emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with control(fault_emulator) as c:
        try:
            yield c
        finally:
            await c.delete("/faults")


async def _graph(
    emu: RunningEmulator, recorder: Recorder, **kwargs: float
) -> tuple[httpx.AsyncClient, GraphMail]:
    http = build_http_client(emu.ca_path)
    http.event_hooks = {"request": [recorder.on_request], "response": [recorder.on_response]}
    return http, GraphMail(http, emu.graph_url, **kwargs)  # type: ignore[arg-type]


async def test_429_gates_the_mailbox_until_retry_after(
    fault_emulator: RunningEmulator, faults: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    app = await register_app(fault_emulator)
    identity = app.identity(fault_emulator)
    email, tokens = await connect(fault_emulator, app, identity)
    recorder = Recorder()
    http, graph = await _graph(fault_emulator, recorder, throttle_retries=0)
    async with http:
        client = graph.mailbox(email, tokens.access_token)
        assert (await faults.put("/faults", json={"throttle": True})).status_code == 200
        with pytest.raises(Throttled) as excinfo:
            await client.get_me()
        retry_after = excinfo.value.retry_after
        assert excinfo.value.status == 429 and retry_after is not None and retry_after > 0
        answered_at = recorder.answers[-1][0]
        assert graph.limiter.not_before(email) >= answered_at + retry_after
        # The hold is logged with the throttled call's own client-request-id and both instants.
        throttled_id = recorder.request_ids[-1][1]
        holds = logged_holds(caplog.text)
        assert list(holds) == [throttled_id]
        begins, ends = holds[throttled_id]
        assert abs(ends - begins - retry_after) < 1e-5
        assert (await faults.delete("/faults")).status_code == 200
        # Faults are gone at once, but nothing may reach Graph before Retry-After has passed.
        results = await asyncio.gather(*(client.get_me() for _ in range(6)))
        assert all(r.mailbox == email for r in results)
    assert recorder.assert_gates_honoured() == 1
    first_after = min(t for t, _ in recorder.starts if t > answered_at)
    assert first_after >= answered_at + retry_after


async def test_client_waits_out_short_retry_after_itself(
    fault_emulator: RunningEmulator, faults: httpx.AsyncClient
) -> None:
    app = await register_app(fault_emulator)
    email, tokens = await connect(fault_emulator, app, app.identity(fault_emulator))
    recorder = Recorder()
    http, graph = await _graph(fault_emulator, recorder, throttle_retries=5)
    async with http:
        client = graph.mailbox(email, tokens.access_token)
        assert (await faults.put("/faults", json={"throttle": True})).status_code == 200
        task = asyncio.create_task(client.get_me())
        while not any(status == 429 for _, status, _ in recorder.answers):
            await asyncio.sleep(0.01)
        assert (await faults.delete("/faults")).status_code == 200
        assert (await task).mailbox == email
    assert recorder.assert_gates_honoured() >= 1
    assert recorder.answers[-1][1] == 200
    # Each attempt, the retry after the 429 too, carries an id of its own naming when it was let go.
    ids = [request_id for _, request_id in recorder.request_ids]
    assert len(ids) >= 2 and len(set(ids)) == len(ids)
    for left_at, request_id in recorder.request_ids:
        stamped = sent_at(request_id)
        assert stamped is not None and left_at - 0.5 < stamped <= left_at


async def test_never_more_than_four_in_flight_so_no_concurrency_429(
    fault_emulator: RunningEmulator, faults: httpx.AsyncClient
) -> None:
    app = await register_app(fault_emulator)
    email, tokens = await connect(fault_emulator, app, app.identity(fault_emulator))
    recorder = Recorder()
    http, graph = await _graph(fault_emulator, recorder, throttle_retries=0)
    async with http:
        client = graph.mailbox(email, tokens.access_token)
        assert (await faults.put("/faults", json={"latency_ms": 300})).status_code == 200
        results = await asyncio.gather(*(client.get_me() for _ in range(12)))
    assert all(r.mailbox == email for r in results)
    assert recorder.peak == 4
    assert [status for _, status, _ in recorder.answers] == [200] * 12
