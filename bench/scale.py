"""`python -m bench scale`: issue 14's scale figures for 10,000 connected mailboxes.

(a) history events per idle connection-day: one real ConnectionWorkflow for `--days` (90) simulated
days on the time-skipping test server (bench/scale_history.py); (b) worker and API memory with idle
connections, measured at `--sizes` and extrapolated to 10,000 (bench/scale_fleet.py); (c) the rate at
which the stack renews those connections' subscriptions when all are due at once, and from it and
Graph's limit the time to renew 10,000 (measured, then computed). Each part starts its own stack
(bench/mail/stack.py). `--quick`: 5 days and 10 + 20 connections. Prints a table and writes
bench/results/scale-<timestamp>.json; bench/README.md says what was measured when."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from typing import Any

from bench.mail.stack import running_stack
from bench.mail_pipeline import write_report
from bench.scale_fleet import forced_renewals, grow, memory_figures, renewal_figures
from bench.scale_history import idle_days
from db import accounts, permissions  # noqa: F401  (registers their tables)

PARTS = ("history", "memory")  # renewals are measured on the memory part's connections


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__)
    parser.add_argument("--days", type=int, default=90, help="simulated idle days for (a)")
    parser.add_argument(
        "--sizes", default="100,200,400", help="connection counts at which memory is read, ascending"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="OAuth connections made at once")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which of {PARTS} to run")
    parser.add_argument("--quick", action="store_true", help="5 days, 10 and 20 connections")
    options = parser.parse_args(argv)
    if options.quick:
        options.days, options.sizes = 5, "10,20"
    return options


async def run(options: argparse.Namespace) -> dict[str, Any]:
    parts = options.parts.split(",")
    report: dict[str, Any] = {"started": time.time(), "load_at_start": os.getloadavg(), "commit": _commit()}
    if "history" in parts:
        async with running_stack(naive=False) as stack:
            report["history"] = await idle_days(stack, options.days)
    if "memory" in parts:
        sizes = [int(s) for s in options.sizes.split(",")]
        async with running_stack(naive=False) as stack:
            boxes, points = await grow(stack, sizes, options.concurrency)
            report["memory_points"] = points
            report["memory"] = memory_figures(points)
            measured = await forced_renewals(stack, boxes)
            report["renewals_measured"] = measured
            report["renewals_computed"] = renewal_figures(measured)
    report["seconds"] = round(time.time() - report["started"], 1)
    report["load_at_end"] = os.getloadavg()
    return report


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def render(report: dict[str, Any]) -> str:
    rows: list[tuple[str, Any, str]] = []
    h = report.get("history")
    if h:
        rows += [
            ("(a) simulated idle days", h["simulated_days"], "measured, time-skipping"),
            ("(a) history events per idle connection-day", round(h["events_per_day"], 1), "measured"),
            ("(a) runs (continue-as-new chain)", h["runs"], "measured"),
            ("(a) largest run: events", h["largest_run_events"], "measured"),
            ("(a) largest run: history KiB", round(h["largest_run_history_bytes"] / 1024, 1), "measured"),
            ("(a) status after the idle days", h["status_at_end"], "measured"),
            ("(a) 10,000 idle: history events/s", h["at_10000_events_per_s"], "computed"),
            ("(a) 10,000 idle: activities/s", h["at_10000_activities_per_s"], "computed"),
        ]
    m = report.get("memory")
    if m:
        last = report["memory_points"][-1]
        extrapolated = m["extrapolated_rss_mb_at_10000"]
        for part in ("worker", "api", "temporal", "emulator"):
            rows += [
                (f"(b) {part} RSS MiB at {last['connections']}", last["rss_mb"].get(part), "measured"),
                (f"(b) {part} KiB per connection", m["kib_per_connection"].get(part), "measured slope"),
                (f"(b) {part} RSS MiB at 10,000", extrapolated.get(part), "EXTRAPOLATED"),
            ]
        rows += [
            ("(b) sizes run", m["sizes_run"], "measured"),
            ("(b) connections/s through OAuth", last["connections_per_s"], "measured"),
            ("(b) worker max_cached_workflows", m["worker_max_cached_workflows"], "SDK default"),
            (
                "(b) worker RSS MiB at 10,000, cache-capped",
                m["extrapolated_worker_rss_mb_capped_by_cache"],
                "EXTRAPOLATED",
            ),
        ]
    r, c = report.get("renewals_measured"), report.get("renewals_computed")
    if r and c:
        rows += [
            (f"(c) renewals forced at once ({r['connections']})", r["renewed"], "measured"),
            ("(c) renewals/s (incl. a token refresh each)", r["renewals_per_s"], "measured"),
            ("(c) 429 answers", r["throttled_429"], "measured"),
            ("(c) busiest 20 s: subscription writes", r["busiest_20s_writes"], "measured"),
            ("(c) 10,000 at once: seconds", c["all_at_once_seconds"], "computed"),
            ("(c) 10,000 at Graph's limit: seconds", c["all_at_once_seconds_at_graph_limit"], "computed"),
            ("(c) scheduled, worst case: writes/20 s", c["scheduled_worst_case_writes_per_20s"], "computed"),
        ]
    width = max(len(name) for name, _, _ in rows) if rows else 10
    lines = [f"{name:<{width}}  {value!s:>16}  {kind}" for name, value, kind in rows]
    loads = f"load at start {report['load_at_start']}, at end {report['load_at_end']}"
    lines.append(f"{loads}; {report['seconds']} s")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    report = asyncio.run(run(_options(argv)))
    print(render(report))
    print(f"written {write_report(report, prefix='scale')}")
    return 0
