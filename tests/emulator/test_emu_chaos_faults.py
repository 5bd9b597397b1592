"""What the chaos suite (chaos/) needs from the emulator: the throttle_rate fault (a seeded fraction of
Graph calls answered 429 with Retry-After), the request log's arrival time and Retry-After, and the log of
notifications POSTed with their answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.helpers import connect, control, deliver, subscription_body
from tests.emulator.receiver import Hook
from tests.support.emulator_server import RunningEmulator, start_emulator

CALLS = 40


@pytest.fixture
def chaos_emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    emu = start_emulator(tmp_path / "emu", no_snapshot=True, extra_updated_notifications=0)
    try:
        yield emu
    finally:
        emu.stop()


async def _statuses(emu: RunningEmulator, seed: int) -> list[int]:
    conn = await connect(emu)
    async with control(emu) as c:
        put = await c.put("/faults", json={"throttle_rate": 0.5, "throttle_seed": seed})
        assert put.status_code == 200, put.text
        try:
            async with conn.graph() as g:
                return [(await g.get("/me")).status_code for _ in range(CALLS)]
        finally:
            await c.delete("/faults")


async def test_throttle_rate_throttles_a_seeded_fraction_with_retry_after(
    chaos_emulator: RunningEmulator,
) -> None:
    started = time.time()
    first = await _statuses(chaos_emulator, seed=3)
    assert set(first) == {200, 429}
    assert CALLS * 0.2 < first.count(429) < CALLS * 0.8
    assert await _statuses(chaos_emulator, seed=3) == first, "the same seed throttles the same calls"
    async with control(chaos_emulator) as c:
        log = (await c.get("/requests", params={"since": started})).json()
    throttled = [e for e in log if e["status"] == 429]
    assert len(throttled) == 2 * first.count(429)
    for entry in throttled:
        assert 0.2 <= entry["retry_after"] <= 1.5
        assert entry["started"] <= entry["time"]
        assert entry["client_id"]
    assert all(e["retry_after"] is None for e in log if e["status"] == 200)


async def test_notification_log_records_each_post_and_its_answer(
    chaos_emulator: RunningEmulator, hook: Hook
) -> None:
    conn = await connect(chaos_emulator)
    async with conn.graph(prefer='IdType="ImmutableId"') as g:
        sub = await g.post("/subscriptions", json=subscription_body(hook, changeType="created"))
    assert sub.status_code == 201, sub.text
    hook.statuses.append(503)
    msg = await deliver(chaos_emulator, conn.email)
    await hook.wait_for(lambda h: len(h.accepted_notifications()) >= 1, what="an accepted notification")
    async with control(chaos_emulator) as c:
        for _ in range(50):
            log = (await c.get("/notifications", params={"mailbox": conn.email})).json()
            if any(e["acknowledged"] for e in log):
                break
            await asyncio.sleep(0.1)
    assert [(e["message_id"], e["status"], e["acknowledged"]) for e in log] == [
        (msg["id"], 503, False),
        (msg["id"], 202, True),
    ]
    assert [e["attempt"] for e in log] == [1, 2]
    assert {e["change_type"] for e in log} == {"created"}
    assert {e["subscription_id"] for e in log} == {sub.json()["id"]}
