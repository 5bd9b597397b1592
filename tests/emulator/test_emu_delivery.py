"""Notification delivery under faults, retries and lifecycle timing, and throttling.

Runs on its own emulator with compressed time (retry backoff in fractions of a second, a 1 s delivery
timeout standing in for Graph's 3 s) so that faults set here never leak into the shared emulator.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.emulator.helpers import (
    Connection,
    assert_graph_error,
    connect,
    control,
    deliver,
    iso_in,
    revoke,
    subscription_body,
)
from tests.emulator.receiver import Hook
from tests.support.emulator_server import RunningEmulator, start_emulator

DELIVERY_TIMEOUT = 1.0
RETRY_BASE = 0.2
RETRY_MAX = 1.0
MAX_ATTEMPTS = 6
PAUSED_LOSS = 4.0  # Graph: about 4 hours; long enough for the checks made before it runs out


@pytest.fixture(scope="module")
def fault_emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    emu = start_emulator(
        tmp_path_factory.mktemp("emulator-faults"),
        no_snapshot=True,
        notification_timeout_seconds=DELIVERY_TIMEOUT,
        notification_retry_base_seconds=RETRY_BASE,
        notification_retry_max_seconds=RETRY_MAX,
        notification_max_attempts=MAX_ATTEMPTS,
        extra_updated_notifications=0,
        sweep_interval_seconds=0.2,
        paused_loss_seconds=PAUSED_LOSS,
    )
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def timing_emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    """Short authorization and subscription lifetimes, and two `updated` after each `created`."""
    emu = start_emulator(
        tmp_path_factory.mktemp("emulator-timing"),
        no_snapshot=True,
        extra_updated_notifications=2,
        access_token_lifetime_min=30,
        access_token_lifetime_max=30,
        reauthorization_lead_seconds=28,
        subscription_min_minutes=0,
        sweep_interval_seconds=0.2,
    )
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
async def faults(fault_emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with control(fault_emulator) as c:
        try:
            yield c
        finally:
            resp = await c.delete("/faults")
            assert resp.status_code in (200, 204)


async def _subscribed(emu: RunningEmulator, hook: Hook, **extra) -> tuple[Connection, dict[str, Any]]:
    conn = await connect(emu)
    async with conn.graph(prefer='IdType="ImmutableId"') as g:
        resp = await g.post("/subscriptions", json=subscription_body(hook, **extra))
    assert resp.status_code == 201, resp.text
    return conn, resp.json()


async def test_5xx_answers_are_retried_until_accepted(fault_emulator, hook):
    conn, sub = await _subscribed(fault_emulator, hook)
    hook.statuses.extend([503, 500])
    await deliver(fault_emulator, conn.email)
    await hook.wait_for(lambda h: len(h.accepted_notifications()) >= 1, what="an accepted notification")
    posts = [r for r in hook.received if r.kind == "notify"]
    assert [r.status for r in posts[:3]] == [503, 500, 202]
    first = posts[0].body["value"][0]
    retried = posts[2].body["value"][0]
    assert first["resourceData"]["id"] == retried["resourceData"]["id"]
    assert retried["subscriptionId"] == sub["id"]
    assert posts[1].at - posts[0].at > 0.05, "retries back off instead of hammering"


async def test_slow_answers_are_retried(fault_emulator, hook):
    conn, _sub = await _subscribed(fault_emulator, hook)
    hook.delays.append(DELIVERY_TIMEOUT + 0.7)
    await deliver(fault_emulator, conn.email)
    await hook.wait_for(lambda h: len(h.notifications()) >= 2, timeout=15, what="a retried notification")
    ids = [n["resourceData"]["id"] for n in hook.notifications()]
    assert len(set(ids)) == 1


async def test_drop_notifications_sends_missed(fault_emulator, hook, faults):
    conn, sub = await _subscribed(fault_emulator, hook)
    resp = await faults.put("/faults", json={"drop_notifications": True})
    assert resp.status_code in (200, 204), resp.text
    await deliver(fault_emulator, conn.email, subject="lost")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="a missed lifecycle notification")
    event = hook.lifecycle_events()[0]
    assert event["lifecycleEvent"] == "missed"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == sub["clientState"]
    assert hook.notifications() == []
    assert (await faults.delete("/faults")).status_code in (200, 204)
    await deliver(fault_emulator, conn.email, subject="found")
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="delivery after clearing faults")


async def test_duplicate_notifications(fault_emulator, hook, faults):
    conn, _sub = await _subscribed(fault_emulator, hook)
    resp = await faults.put("/faults", json={"duplicate_notifications": True})
    assert resp.status_code in (200, 204), resp.text
    await deliver(fault_emulator, conn.email)
    await hook.wait_for(lambda h: len(h.notifications()) >= 2, what="duplicated notifications")
    created = [n for n in hook.notifications() if n["changeType"] == "created"]
    assert len(created) >= 2
    assert len({n["resourceData"]["id"] for n in created}) == 1


async def test_configured_updated_notifications_follow_created(timing_emulator, hook):
    emu = timing_emulator
    conn, _sub = await _subscribed(emu, hook)
    await deliver(emu, conn.email)
    await hook.wait_for(
        lambda h: [n["changeType"] for n in h.notifications()].count("updated") >= 2,
        what="two updated notifications",
    )
    kinds = [n["changeType"] for n in hook.notifications()]
    assert kinds.count("created") == 1


async def test_notification_delay(fault_emulator, hook, faults):
    conn, _sub = await _subscribed(fault_emulator, hook)
    assert (await faults.put("/faults", json={"notification_delay_ms": 1500})).status_code in (200, 204)
    sent_at = time.time()
    await deliver(fault_emulator, conn.email)
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="a delayed notification")
    assert hook.received[0].at - sent_at >= 1.4


async def test_error_rate_and_latency_apply_to_graph_calls(fault_emulator, faults):
    conn = await connect(fault_emulator)
    assert (await faults.put("/faults", json={"error_rate": 1.0})).status_code in (200, 204)
    async with conn.graph() as g:
        resp = await g.get("/me")
    assert resp.status_code >= 500
    assert_graph_error(resp, resp.status_code, None)
    assert (await faults.put("/faults", json={"latency_ms": 600})).status_code in (200, 204)
    async with conn.graph() as g:
        started = time.monotonic()
        resp = await g.get("/me")
        elapsed = time.monotonic() - started
    assert resp.status_code == 200, "a new PUT replaces the previous faults"
    assert elapsed >= 0.55
    assert (await faults.delete("/faults")).status_code in (200, 204)
    async with conn.graph() as g:
        assert (await g.get("/me")).status_code == 200


async def test_throttle_fault_gives_429(fault_emulator, faults):
    conn = await connect(fault_emulator)
    assert (await faults.put("/faults", json={"throttle": True})).status_code in (200, 204)
    async with conn.graph() as g:
        resp = await g.get("/me")
    _assert_429(resp)


def _assert_429(resp: httpx.Response) -> float:
    err = assert_graph_error(resp, 429, None)
    assert err["code"] in ("ApplicationThrottled", "TooManyRequests", "MailboxConcurrency"), err
    retry_after = resp.headers["retry-after"]
    assert "." in retry_after, f"Outlook's Retry-After is fractional: {retry_after!r}"
    seconds = float(retry_after)
    assert seconds > 0
    return seconds


async def test_more_than_four_concurrent_requests_are_429(fault_emulator, faults):
    conn = await connect(fault_emulator)
    other = await connect(fault_emulator, app=conn.app)  # same app, another mailbox
    latency = 2.0
    async with conn.graph() as g, other.graph() as g2:
        # Open the connections first (four at a time, within the limit): the burst below then
        # reaches the emulator at once instead of trickling in behind TLS handshakes.
        warm = await asyncio.gather(*[g.get("/me") for _ in range(4)])
        assert [r.status_code for r in warm] == [200] * 4
        assert (await faults.put("/faults", json={"latency_ms": int(latency * 1000)})).status_code in (
            200,
            204,
        )

        async def timed(client: httpx.AsyncClient) -> tuple[httpx.Response, float]:
            resp = await client.get("/me")
            return resp, time.monotonic()

        started = time.monotonic()
        results = await asyncio.gather(*[timed(g) for _ in range(10)], timed(g2), timed(g2))
    mine, theirs = results[:10], [r for r, _at in results[10:]]
    ok = [(r, at) for r, at in mine if r.status_code == 200]
    throttled = [r for r, _at in mine if r.status_code == 429]
    assert len(ok) + len(throttled) == 10, [r.status_code for r, _at in mine]
    assert len(throttled) >= 2
    assert len(ok) >= 4, "the first four concurrent requests pass"
    # The latency holds a slot: a 200 answered before started + 2 * latency was admitted before
    # started + latency, so all of those were in flight together, and at most four may be. (A busy
    # machine can only delay answers, which makes this count smaller, never larger.)
    first_wave = [at for _r, at in ok if at < started + 2 * latency]
    assert len(first_wave) <= 4, [round(at - started, 2) for _r, at in ok]
    for r in throttled:
        _assert_429(r)
    assert [r.status_code for r in theirs] == [200, 200], "limits are per app and mailbox"


async def test_subscription_expiring_soon_gets_reauthorization_required(timing_emulator, hook):
    """reauthorizationRequired arrives before the subscription's access runs out."""
    emu = timing_emulator
    _conn, sub = await _subscribed(emu, hook)
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, timeout=8, what="reauthorizationRequired")
    event = hook.lifecycle_events()[0]
    assert event["lifecycleEvent"] == "reauthorizationRequired"
    assert event["subscriptionId"] == sub["id"]


async def test_expired_subscription_disappears_without_lifecycle_notifications(timing_emulator, hook):
    """Microsoft sends subscriptionRemoved when Graph removes a live subscription, not when one expires
    unrenewed: that one just disappears (emulator/README.md). What it held is gone with it, without
    `missed` for a subscription that no longer exists."""
    emu = timing_emulator
    conn, sub = await _subscribed(emu, hook, expirationDateTime=iso_in(0.08), changeType="created")
    await revoke(emu, conn.email, "consent_revoked")  # pauses delivery: the next message is held
    await deliver(emu, conn.email, subject="held when it expires")
    assert await _held(emu, sub["id"]) == 1
    async with conn.graph() as g:
        deadline = time.monotonic() + 15
        while (await g.get(f"/subscriptions/{sub['id']}")).status_code == 200:
            assert time.monotonic() < deadline, "expired subscription still listed"
            await asyncio.sleep(0.2)
        assert_graph_error(await g.get(f"/subscriptions/{sub['id']}"), 404, None)
        assert (await g.get("/subscriptions")).json()["value"] == []
    # Until the sweep has removed it, it still shows in the control API; after that, give any lifecycle
    # notification the sweep might have queued ample time to arrive.
    async with control(emu) as c:
        deadline = time.monotonic() + 15
        while any(s["id"] == sub["id"] for s in (await c.get("/subscriptions")).json()):
            assert time.monotonic() < deadline, "the sweep never removed the expired subscription"
            await asyncio.sleep(0.2)
    await deliver(emu, conn.email, subject="after it expired")
    await asyncio.sleep(1.5)
    events = [e["lifecycleEvent"] for e in hook.lifecycle_events()]
    assert "subscriptionRemoved" not in events, events
    assert "missed" not in events, events
    assert hook.notifications() == []


async def test_request_budget_per_window(tmp_path):
    with start_emulator(
        tmp_path / "emu", no_snapshot=True, throttle_budget=5, throttle_window_seconds=3
    ) as emu:
        conn = await connect(emu)
        other = await connect(emu, app=conn.app)
        async with conn.graph() as g, other.graph() as g2:
            statuses = [(await g.get("/me")).status_code for _ in range(5)]
            assert statuses == [200] * 5
            throttled = await g.get("/me")
            wait = _assert_429(throttled)
            assert wait <= 3.5
            assert (await g2.get("/me")).status_code == 200, "the budget is per app and mailbox"
            await asyncio.sleep(wait + 0.2)
            assert (await g.get("/me")).status_code == 200, "after Retry-After the mailbox is served again"


async def test_giving_up_after_max_attempts_sends_missed_and_backoff_grows(fault_emulator, hook):
    """notification_max_attempts (6 here) failed POSTs: the notification is dropped and `missed` tells the
    client to resync. The waits between attempts double (0.2, 0.4, 0.8 s, capped at 1 s): only lower
    bounds are checked, which a busy machine cannot break."""
    conn, sub = await _subscribed(fault_emulator, hook)
    hook.statuses.extend([500] * MAX_ATTEMPTS)
    await deliver(fault_emulator, conn.email, subject="never accepted")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, timeout=30, what="a missed notification")
    event = hook.lifecycle_events()[0]
    assert event["lifecycleEvent"] == "missed"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == sub["clientState"]
    posts = [r for r in hook.received if r.kind == "notify"]
    assert [r.status for r in posts] == [500] * MAX_ATTEMPTS
    assert len({r.body["value"][0]["resourceData"]["id"] for r in posts}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    for attempt, gap in enumerate(gaps):
        scheduled = min(RETRY_BASE * 2**attempt, RETRY_MAX)
        assert gap >= scheduled - 0.02, (attempt, gaps)
    await asyncio.sleep(RETRY_MAX + 0.5)
    assert len([r for r in hook.received if r.kind == "notify"]) == MAX_ATTEMPTS, "no attempt after giving up"


async def _held(emu: RunningEmulator, sub_id: str) -> int:
    async with control(emu) as c:
        subs = (await c.get("/subscriptions")).json()
    return int(next(s["held_notifications"] for s in subs if s["id"] == sub_id))


async def test_paused_subscription_loses_held_notifications_after_the_pause_runs_out(fault_emulator, hook):
    """A revoked grant pauses delivery; unrenewed past paused_loss_seconds, what was held is lost for good
    and `missed` says so (Graph: after about 4 hours)."""
    conn, sub = await _subscribed(fault_emulator, hook, changeType="created")
    await revoke(fault_emulator, conn.email, "consent_revoked")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="reauthorizationRequired")
    await deliver(fault_emulator, conn.email, subject="held, then lost")
    assert await _held(fault_emulator, sub["id"]) == 1
    await hook.wait_for(
        lambda h: "missed" in [e["lifecycleEvent"] for e in h.lifecycle_events()],
        timeout=PAUSED_LOSS + 15,
        what="missed after the pause ran out",
    )
    missed = next(e for e in hook.lifecycle_events() if e["lifecycleEvent"] == "missed")
    assert missed["subscriptionId"] == sub["id"]
    assert missed["clientState"] == sub["clientState"]
    assert await _held(fault_emulator, sub["id"]) == 0
    # Re-authorizing now brings nothing back: the held notification is gone.
    again = await connect(fault_emulator, app=conn.app, email=conn.email)
    async with again.graph() as g:
        assert (await g.post(f"/subscriptions/{sub['id']}/reauthorize")).status_code == 204
    await asyncio.sleep(1.0)
    assert hook.notifications() == []
