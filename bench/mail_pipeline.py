"""`python -m bench mail`: incoming mail through the real service, and a naive design in the same run.

Starts Temporal, OpenBao, the emulator, the API and the worker itself (bench/mail/stack.py), connects
mailboxes through real OAuth, then measures: webhook ack latency under an open-loop notification load,
end-to-end emails/s (burst) and latency at a paced rate, Temporal history events and Graph calls per
email; then the same emails through the naive design (bench/naive/). Prints a table and writes
bench/results/<timestamp>.json. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mail.drivers import post_notifications_elsewhere, subscriptions
from bench.mail.naive_drive import detach_product, naive_notifier, start_naive
from bench.mail.phases import Design, connect_mailboxes, measure, settle
from bench.mail.stack import running_stack
from bench.mail.stats import fmt, percentile, ratio

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
    p.add_argument("--skip-ack", action="store_true")
    p.add_argument("--api-in-process", action="store_true", help="uvicorn in the benchmark's own process")
    return p.parse_args(argv)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "options": vars(opts)}
    report["load_at_start"] = _load()
    async with running_stack(api_in_process=opts.api_in_process) as stack:
        t = time.monotonic()
        boxes = await connect_mailboxes(stack, opts.connections)
        report["connect_seconds"] = time.monotonic() - t
        print(f"connected {len(boxes)} mailboxes in {report['connect_seconds']:.1f} s", flush=True)

        product = Design("product", "MessageWorkflow", "ConnectionWorkflow")
        report["product_burst"] = await measure(stack, boxes, product, burst=opts.burst)
        report["product_burst"]["load"] = _load()
        print(f"product burst: {report['product_burst']}", flush=True)
        report["product_paced"] = await measure(
            stack, boxes, product, rate=opts.paced_rate, seconds=opts.paced_seconds
        )
        report["product_paced"]["load"] = _load()
        print(f"product paced: {report['product_paced']}", flush=True)

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
            await settle(stack.env.client, "MessageWorkflow")
            api_log = stack.settings.data_dir / "api.log"
            if api_log.exists():
                report["api_log_tail"] = api_log.read_text(errors="replace")[-4000:]

        if not opts.skip_naive:
            detach_product(stack)
            handles = await start_naive(stack.env.client, boxes)
            naive = Design(
                "naive", "NaiveMessageWorkflow", "NaiveConnectionWorkflow", on_sent=naive_notifier(handles)
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
    ("emails/s (burst)", "burst", "emails_per_second", ">= 40/s, >= 2.5x naive"),
    ("latency p50 (burst)", "burst", "latency_p50_s", ""),
    ("latency p99 (burst)", "burst", "latency_p99_s", ""),
    ("latency p50 (paced)", "paced", "latency_p50_s", ""),
    ("latency p99 (paced)", "paced", "latency_p99_s", "<= 1 s"),
    ("history events/email (burst)", "burst", "events_per_email", ""),
    ("Graph calls/email (burst)", "burst", "graph_calls_per_email", ""),
]


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
        "| figure | product | naive | product/naive | target |",
        "|---|---|---|---|---|",
    ]
    for label, mode, key, target in FIGURES:
        p = report.get(f"product_{mode}", {}).get(key)
        n = report.get(f"naive_{mode}", {}).get(key)
        lines.append(
            f"| {label} | {fmt(p, digits=3)} | {fmt(n, digits=3)} | {fmt(ratio(p, n), 'x', 2)} | {target} |"
        )
    for phase in ("product_burst", "product_paced", "naive_burst"):
        if report.get(phase, {}).get("cpu_ms_per_email"):
            lines.append(f"CPU ms per email, {phase}: {report[phase]['cpu_ms_per_email']}")
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
