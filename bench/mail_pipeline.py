"""`python -m bench mail`: incoming mail through the real service, against two baselines in the same run:
today's design (the previous release, run from a git worktree: bench/mail/today.py) and a naive design.

Starts Temporal, OpenBao, the emulator, the API and the worker itself (bench/mail/stack.py), and the
previous release's API and worker beside them; connects mailboxes through real OAuth (each design's
through its own API), then measures: end-to-end emails/s (burst) and latency at a paced rate, Temporal
history events, Graph calls and CPU per email, for the product and today's design; webhook ack latency
under an open-loop notification load; then the same emails through the naive design (bench/naive/).
Prints a table and writes bench/results/<timestamp>.json. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mail.drivers import post_notifications_elsewhere, subscriptions
from bench.mail.naive_drive import detach_product, naive_notifier, start_naive
from bench.mail.phases import Design, connect_mailboxes, measure, settle
from bench.mail.stack import NAIVE_QUEUE, running_stack
from bench.mail.stats import fmt, percentile, ratio
from bench.mail.today import TODAY_COMMIT, today_service
from tests.e2e.conftest import Stack

RESULTS = Path(__file__).resolve().parent / "results"


def _options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench mail")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--ack-rate", type=float, default=200.0, help="notifications/s posted to the webhook")
    p.add_argument("--ack-seconds", type=float, default=20.0)
    p.add_argument("--ack-batch", type=int, default=1, help="notifications per POST")
    p.add_argument(
        "--ack-connections", type=int, default=1000, help="connections the webhook phase spreads over"
    )
    p.add_argument("--burst", type=int, default=400, help="emails delivered as fast as possible")
    p.add_argument("--paced-rate", type=float, default=10.0)
    p.add_argument("--paced-seconds", type=float, default=20.0)
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-today", action="store_true", help="no baseline of the previous release")
    p.add_argument("--today-first", action="store_true", help="measure today's design before the product")
    p.add_argument("--skip-ack", action="store_true")
    p.add_argument("--api-in-process", action="store_true", help="uvicorn in the benchmark's own process")
    return p.parse_args(argv)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _git_state() -> dict[str, Any]:
    """The product measured is this checkout's working tree: its commit and any uncommitted product files."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout

    # Porcelain lines are "XY path": the status letters' column may start with a space.
    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted": [p for p in dirty if not p.startswith(("bench/", "tests/"))],
    }


def _today(stack: Stack, skip: bool) -> contextlib.AbstractAsyncContextManager[Stack | None]:
    return contextlib.nullcontext(None) if skip else today_service(stack)


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "options": vars(opts)}
    report["load_at_start"] = _load()
    report["today_commit"] = None if opts.skip_today else TODAY_COMMIT
    report["product_git"] = _git_state()
    async with (
        running_stack(api_in_process=opts.api_in_process) as stack,
        _today(stack, opts.skip_today) as today,
    ):
        t = time.monotonic()
        boxes = await connect_mailboxes(stack, opts.connections)
        report["connect_seconds"] = time.monotonic() - t
        print(f"connected {len(boxes)} mailboxes in {report['connect_seconds']:.1f} s", flush=True)
        product = Design(
            "product", "MessageWorkflow", "ConnectionWorkflow", stack.settings.temporal_task_queue
        )
        # (name, its stack, its mailboxes, its design): the product, and today's design beside it.
        designs = [("product", stack, boxes, product)]
        if today is not None:
            t = time.monotonic()
            today_boxes = await connect_mailboxes(today, opts.connections)
            report["today_connect_seconds"] = time.monotonic() - t
            print(f"connected {len(today_boxes)} mailboxes to today's design", flush=True)
            old = Design("today", "MessageWorkflow", "ConnectionWorkflow", today.settings.temporal_task_queue)
            designs.append(("today", today, today_boxes, old))
            if opts.today_first:
                designs.reverse()

        for name, on, its_boxes, design in designs:
            report[f"{name}_burst"] = await measure(on, its_boxes, design, burst=opts.burst)
            report[f"{name}_burst"]["load"] = _load()
            print(f"{name} burst: {report[f'{name}_burst']}", flush=True)
        for name, on, its_boxes, design in designs:
            report[f"{name}_paced"] = await measure(
                on, its_boxes, design, rate=opts.paced_rate, seconds=opts.paced_seconds
            )
            report[f"{name}_paced"]["load"] = _load()
            print(f"{name} paced: {report[f'{name}_paced']}", flush=True)

        if not opts.skip_ack:
            t = time.monotonic()
            extra = await connect_mailboxes(
                stack, max(0, opts.ack_connections - len(boxes)), concurrency=12, with_recipe=False
            )
            took = report["ack_connect_seconds"] = time.monotonic() - t
            print(f"connected {len(extra)} more mailboxes in {took:.1f} s", flush=True)
            ack_boxes = {b.email for b in [*boxes, *extra]}
            subs = [s for s in await subscriptions(stack) if s.mailbox in ack_boxes]
            ack = await asyncio.to_thread(
                post_notifications_elsewhere,
                stack.api_url,
                subs,
                opts.ack_rate,
                opts.ack_seconds,
                opts.ack_batch,
                stack.settings.data_dir / "ack.json",
            )
            report["ack"] = {
                "connections": len(subs),
                "notifications": ack.notifications,
                "requests": ack.requests,
                "batch": opts.ack_batch,
                "seconds": ack.seconds,
                "statuses": ack.statuses,
                "late_starts": ack.late_starts,
                "p50_ms": (percentile(ack.latencies, 50) or 0) * 1000,
                "p99_ms": (percentile(ack.latencies, 99) or 0) * 1000,
                "max_ms": max(ack.latencies) * 1000 if ack.latencies else None,
                "load": _load(),
            }
            print(f"ack: {report['ack']}", flush=True)
            await settle(stack.env.client, product.messages)
            api_log = stack.settings.data_dir / "api.log"
            if api_log.exists():
                report["api_log_tail"] = api_log.read_text(errors="replace")[-4000:]

        if not opts.skip_naive:
            detach_product(stack)
            handles = await start_naive(stack.env.client, boxes)
            naive = Design(
                "naive",
                "NaiveMessageWorkflow",
                "NaiveConnectionWorkflow",
                NAIVE_QUEUE,
                on_sent=naive_notifier(handles),
            )
            report["naive_burst"] = await measure(stack, boxes, naive, burst=opts.burst, timeout=300)
            report["naive_burst"]["load"] = _load()
            print(f"naive burst: {report['naive_burst']}", flush=True)
            report["naive_paced"] = await measure(
                stack, boxes, naive, rate=opts.paced_rate, seconds=opts.paced_seconds, timeout=300
            )
            report["naive_paced"]["load"] = _load()
            print(f"naive paced: {report['naive_paced']}", flush=True)
            for h in handles.values():
                await h.terminate("benchmark over")
    report["finished"] = datetime.now(UTC).isoformat()
    return report


FIGURES = [
    ("emails/s (burst)", "burst", "emails_per_second", ">= 40/s; >= 1.0x today; >= 2.5x naive"),
    ("latency p50 (burst)", "burst", "latency_p50_s", ""),
    ("latency p99 (burst)", "burst", "latency_p99_s", ""),
    ("latency p50 (paced)", "paced", "latency_p50_s", ""),
    ("latency p99 (paced)", "paced", "latency_p99_s", "<= 1 s"),
    ("history events/email (burst)", "burst", "events_per_email", ""),
    ("  message workflows (children)", "burst", "message_events_per_email", ""),
    ("  connection workflows (parent)", "burst", "connection_events_per_email", ""),
    ("Graph calls/email (burst)", "burst", "graph_calls_per_email", ""),
    ("worker pool threads", "burst", "pool_threads", ""),
    ("worker pool queue wait p50 ms (burst)", "burst", "pool_wait_p50_ms", ""),
    ("worker pool queue wait p99 ms (burst)", "burst", "pool_wait_p99_ms", ""),
    ("worker pool queue wait max ms (burst)", "burst", "pool_wait_max_ms", ""),
    ("worker pool queue wait p99 ms (paced)", "paced", "pool_wait_p99_ms", ""),
]
DESIGNS = ("product", "today", "naive")


def render(report: dict[str, Any]) -> str:
    ack = report.get("ack")
    lines = []
    if ack is not None:
        lines += [
            f"webhook ack at {report['options']['ack_rate']:g} notifications/s, "
            f"{ack['connections']} connections, "
            f"{ack['batch']} per POST: p50 {ack['p50_ms']:.1f} ms, p99 {ack['p99_ms']:.1f} ms "
            f"(target p99 <= 50 ms), statuses {ack['statuses']}, load {ack['load']}",
            "",
        ]
    lines += [
        "| figure | product | today | naive | product/today | product/naive | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, mode, key, target in FIGURES:
        p, t, n = (report.get(f"{d}_{mode}", {}).get(key) for d in DESIGNS)
        lines.append(
            f"| {label} | {fmt(p, digits=3)} | {fmt(t, digits=3)} | {fmt(n, digits=3)} "
            f"| {fmt(ratio(p, t), 'x', 2)} | {fmt(ratio(p, n), 'x', 2)} | {target} |"
        )
    p, t = (report.get(f"{d}_burst", {}).get("emails_per_second") for d in ("product", "today"))
    verdict = ratio(p, t)
    if verdict is not None:
        lines.append(f"burst product/today {verdict:.2f}x: {'PASS' if verdict >= 1.0 else 'FAIL'} (>= 1.0)")
    for d in DESIGNS:
        for kind, types in report.get(f"{d}_burst", {}).get("event_types_per_email", {}).items():
            lines.append(f"history events per email, {d} burst, {kind} workflows: {types}")
    for d in DESIGNS:
        for mode in ("burst", "paced"):
            phase = report.get(f"{d}_{mode}", {})
            if phase.get("cpu_ms_per_email"):
                lines.append(
                    f"CPU ms per email, {d} {mode} (load {phase.get('load')}): {phase['cpu_ms_per_email']}"
                )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    opts = _options(argv)
    report = asyncio.run(run(opts))
    print(render(report))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"mail-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"written {out}")
    return 0
