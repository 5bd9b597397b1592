"""(b) Memory with N idle connections and (c) the rate at which the stack renews their subscriptions.

(b) Mailboxes are connected through real OAuth (bench/mail/phases.py connect_mailboxes, connections
only) in steps; after each step the resident memory of every process is read. The slope per
connection between the smallest and the largest step extrapolates to 10,000 (labelled so).

(c) Every connection is sent the `lifecycle` signal `reauthorizationRequired`, as the webhook does when
Graph sends that lifecycle event: the workflow refreshes its tokens and renews its subscription at once
(workflows/connection.py `_on_lifecycle`). The renewals are counted at the emulator (PATCH
/v1.0/subscriptions/{id} in its request log), which enforces Graph's 500 subscription writes per 20 s
per app: the measured rate includes a token refresh per renewal, so it is a lower bound."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Sequence
from typing import Any

from temporalio.worker import Worker

from bench.mail.drivers import Mailbox
from bench.mail.phases import connect_mailboxes
from bench.scale_rss import rss_mb
from payloads.connection import ConnectionTiming, LifecycleEvent
from tests.e2e.conftest import Stack
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

TARGET = 10_000
# Graph: subscription writes, 500 per 20 s per app per tenant (graph-facts.md); the emulator enforces it.
WRITES_PER_WINDOW = 500
WINDOW_SECONDS = 20.0
# After a step's last connection is active, its first catch-up and status records are still landing.
SETTLE_SECONDS = 10.0


def sticky_cache_size() -> int:
    """The worker's max_cached_workflows: worker.py's build_worker passes none, so the SDK's default."""
    default = inspect.signature(Worker.__init__).parameters["max_cached_workflows"].default
    return int(default)


async def grow(
    stack: Stack, sizes: Sequence[int], concurrency: int
) -> tuple[list[Mailbox], list[dict[str, Any]]]:
    boxes: list[Mailbox] = []
    points: list[dict[str, Any]] = [{"connections": 0, "rss_mb": rss_mb(), "load": os.getloadavg()}]
    for size in sizes:
        began = time.monotonic()
        boxes += await connect_mailboxes(stack, size - len(boxes), concurrency, with_recipe=False)
        took = time.monotonic() - began
        await asyncio.sleep(SETTLE_SECONDS)
        points.append(
            {
                "connections": len(boxes),
                "connect_seconds": round(took, 1),
                "connections_per_s": round((len(boxes) - points[-1]["connections"]) / took, 2),
                "rss_mb": rss_mb(),
                "load": os.getloadavg(),
            }
        )
    return boxes, points


def memory_figures(points: list[dict[str, Any]]) -> dict[str, Any]:
    """MiB per connection for each part, from the first measured step to the last, and the straight
    line through them to 10,000 (extrapolated: no run connected that many)."""
    first, last = points[1], points[-1]
    span = last["connections"] - first["connections"]
    slopes = {
        part: (last["rss_mb"].get(part, 0.0) - first["rss_mb"].get(part, 0.0)) / span
        for part in last["rss_mb"]
    }
    cache = sticky_cache_size()
    extrapolated = {
        part: round(last["rss_mb"][part] + slopes[part] * (TARGET - last["connections"]), 1)
        for part in slopes
    }
    return {
        "sizes_run": [p["connections"] for p in points[1:]],
        "rss_mb_by_size": {p["connections"]: p["rss_mb"] for p in points},
        "kib_per_connection": {part: round(s * 1024, 1) for part, s in slopes.items()},
        "extrapolated_rss_mb_at_10000": extrapolated,
        "worker_max_cached_workflows": cache,
        # Beyond the cache size an idle workflow is evicted and replayed at its next task instead of
        # kept in memory: if the worker's slope is its cached workflows, its line flattens there and
        # the straight line overstates it. This is that bound (also extrapolated when over the sizes run).
        "extrapolated_worker_rss_mb_capped_by_cache": round(
            last["rss_mb"]["worker"] + slopes["worker"] * max(cache - last["connections"], 0), 1
        ),
    }


async def _signal_all(stack: Stack, boxes: list[Mailbox], concurrency: int = 32) -> None:
    gate = asyncio.Semaphore(concurrency)
    client = stack.env.client

    async def one(box: Mailbox) -> None:
        async with gate:
            handle = client.get_workflow_handle(connection_workflow_id(box.connection_id))
            await handle.signal(ConnectionWorkflow.lifecycle, LifecycleEvent.REAUTHORIZATION_REQUIRED)

    await asyncio.gather(*(one(b) for b in boxes))


async def _subscription_writes(stack: Stack, since: float) -> list[dict[str, Any]]:
    async with stack.emulator_control() as control:
        r = await control.get("/_emulator/requests", params={"since": str(since)})
        r.raise_for_status()
    return [
        e
        for e in r.json()
        if e.get("method") == "PATCH" and str(e.get("path", "")).startswith("/v1.0/subscriptions/")
    ]


def _first_renewals(writes: list[dict[str, Any]]) -> dict[str, float]:
    """Each subscription's first successful PATCH: when it was answered."""
    first: dict[str, float] = {}
    for w in sorted(writes, key=lambda w: float(w["time"])):
        if w["status"] == 200:
            first.setdefault(str(w["path"]), float(w["time"]))
    return first


def _busiest_window(times: list[float]) -> int:
    """The most subscription writes in any WINDOW_SECONDS, as the emulator's sliding window counts."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - WINDOW_SECONDS:
            start += 1
        best = max(best, end - start + 1)
    return best


async def forced_renewals(stack: Stack, boxes: list[Mailbox], timeout: float = 300.0) -> dict[str, Any]:
    since = time.time()
    await _signal_all(stack, boxes)
    signalled = time.time() - since
    deadline = time.monotonic() + timeout
    writes: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        writes = await _subscription_writes(stack, since)
        if len(_first_renewals(writes)) >= len(boxes):
            break
        await asyncio.sleep(1.0)
    first = _first_renewals(writes)
    renewed = sorted(first.values())
    span = (renewed[-1] - since) if renewed else None
    rate = len(renewed) / span if span else None
    return {
        "connections": len(boxes),
        "signal_seconds": round(signalled, 1),
        "renewed": len(renewed),
        # More than one PATCH for a subscription: the lifecycle path renews it, and so may the timer.
        "subscription_writes_ok": sum(1 for w in writes if w["status"] == 200),
        "throttled_429": sum(1 for w in writes if w["status"] == 429),
        "other_failures": sum(1 for w in writes if w["status"] not in (200, 429)),
        "first_signal_to_last_renewal_s": round(span, 1) if span else None,
        "renewals_per_s": round(rate, 2) if rate else None,
        "busiest_20s_writes": _busiest_window([w["time"] for w in writes]),
        "load": os.getloadavg(),
    }


def renewal_figures(measured: dict[str, Any]) -> dict[str, Any]:
    """Computed for 10,000 from the measured rate, Graph's limit and the product's renewal timing."""
    timing = ConnectionTiming()
    graph_rate = WRITES_PER_WINDOW / WINDOW_SECONDS
    rate = measured["renewals_per_s"]
    jitter_s = timing.renewal_jitter.total_seconds()
    # Connections made in the same instant renew spread uniformly over the jitter window (and each
    # renewal draws its jitter again, so they spread further with every cycle).
    scheduled_rate = TARGET / jitter_s
    return {
        "graph_limit_per_s": graph_rate,
        "all_at_once_seconds_at_measured_rate": round(TARGET / rate, 1) if rate else None,
        "all_at_once_seconds_at_graph_limit": round(TARGET / graph_rate, 1),
        "all_at_once_seconds": round(TARGET / min(rate, graph_rate), 1) if rate else None,
        "renewal_jitter_s": jitter_s,
        "renewal_every_s": (timing.subscription_lifetime - timing.renewal_lead).total_seconds()
        - jitter_s / 2,
        "scheduled_worst_case_per_s": round(scheduled_rate, 2),
        "scheduled_worst_case_writes_per_20s": round(scheduled_rate * WINDOW_SECONDS, 1),
        "scheduled_within_graph_limit": scheduled_rate < graph_rate,
        "scheduled_within_measured_rate": bool(rate) and scheduled_rate < rate,
    }
