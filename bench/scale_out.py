"""`python -m bench scale-out`: does the service go faster with more processes? One API process and one
worker against one Temporal dev server, then two of each (`--shapes`: APIS x WORKERS), in the same run.

Each shape is a deployment of its own (bench/mail/deployment.py: its processes behind a round-robin
balancer, as docker-compose.yml's proxy is in front of its API replicas) on the same Temporal, OpenBao
and emulator (bench/mail/stack.py; the stack's own API and worker idle meanwhile). Per shape: connect
`--connections` mailboxes through real OAuth, one unmeasured email per mailbox (caches warm, as in
steady service), then a burst of `--burst` emails over them measured as the mail benchmark measures one
(bench/mail/phases.py `measure`: first delivery -> last item), and how many webhooks each API process
acknowledged during it. A shape's processes are stopped before the next one starts.

Prints one JSON line last (`summary`) and writes bench/results/scale-out-<timestamp>.json. Exit status 1
only when the run failed (an email without its item, an API of a multi-API shape that received no
webhook), never because there was no gain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mail.deployment import Deployment, acknowledged_per_api, deployment
from bench.mail.drivers import Mailbox, deliver_burst
from bench.mail.measure import wait_committed
from bench.mail.phases import Design, connect_mailboxes, measure, settle
from bench.mail.stack import running_stack
from bench.mail.stats import ratio
from bench.mail_pipeline import write_report
from db import accounts, permissions  # noqa: F401  (registers their tables)


def shape(text: str) -> tuple[int, int]:
    """APIS x WORKERS: "2x2" is two API processes and two workers."""
    apis, _, workers = text.partition("x")
    parsed = int(apis), int(workers)
    if min(parsed) < 1:
        raise ValueError(f"{text}: at least one API and one worker")
    return parsed


def _options(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench scale-out", description=__doc__)
    p.add_argument("--shapes", nargs="+", type=shape, default=[(1, 1), (2, 2)], help="APIS x WORKERS")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--burst", type=int, default=300, help="emails delivered as fast as possible")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a burst's items are waited for")
    return p.parse_args(argv)


def _name(apis: int, workers: int) -> str:
    return f"{apis}x{workers}"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip()


async def _warm(d: Deployment, boxes: list[Mailbox], design: Design, timeout: float) -> None:
    """One email per mailbox, not measured: each API process has read the clientStates it will check and
    each worker the recipes it will match, as after a few minutes of service."""
    sent = await deliver_burst(d.stack, boxes, len(boxes))
    _, complete = await wait_committed(d.stack, list(sent.at), timeout)
    if not complete:
        raise RuntimeError(f"{d.name}: the warm-up's emails did not all become items in {timeout:.0f} s")
    await settle(d.stack.env.client, design.messages)


async def measure_shape(d: Deployment, opts: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    # As the mail benchmark's webhook phase connects its extra mailboxes: 12 OAuth flows at a time.
    boxes = await connect_mailboxes(d.stack, opts.connections, concurrency=12)
    connected = time.monotonic() - started
    design = Design(d.name, "MessageWorkflow", "ConnectionWorkflow", d.stack.settings.temporal_task_queue)
    await _warm(d, boxes, design, opts.timeout)
    acks_before = await acknowledged_per_api(d)
    load_before = _load()
    phase = await measure(d.stack, boxes, design, burst=opts.burst, timeout=opts.timeout)
    phase["load"] = _load()
    phase["load_before"] = load_before
    acks_after = await acknowledged_per_api(d)
    phase["webhooks_per_api"] = [round(a - b) for a, b in zip(acks_after, acks_before, strict=True)]
    phase["apis"] = len(d.api_urls)
    phase["workers"] = d.workers
    phase["connect_seconds"] = round(connected, 1)
    return phase


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "options": {**vars(opts), "shapes": [_name(*s) for s in opts.shapes]},
        "commit": _commit(),
        "cores": os.cpu_count(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    async with running_stack(naive=False) as stack:
        for apis, workers in opts.shapes:
            name = _name(apis, workers)
            async with deployment(stack, name, apis, workers) as d:
                report[name] = await measure_shape(d, opts)
            print(f"{name}: {json.dumps(figures(report[name]))}", flush=True)
    return report


def figures(phase: dict[str, Any]) -> dict[str, Any]:
    """What the summary keeps of one shape's burst."""
    eps = phase.get("emails_per_second")
    return {
        "emails_per_s": None if eps is None else round(eps, 2),
        "cpu_ms_per_email": phase["cpu_ms_per_email"],
        "items": f"{phase['items_committed']} of {phase['emails']}",
        "webhooks_per_api": phase["webhooks_per_api"],
        "load_before": phase["load_before"],
        "load_after": phase["load"],
        "latency_p50_s": phase.get("latency_p50_s"),
        "latency_p99_s": phase.get("latency_p99_s"),
    }


def failures(report: dict[str, Any], shapes: list[str]) -> list[str]:
    """An email without its item, or an API of a multi-API shape that no webhook reached: the run is
    wrong (a missing gain is a result, not a failure)."""
    found = []
    for name in shapes:
        phase = report.get(name)
        if phase is None:
            found.append(f"{name}: not measured")
            continue
        if phase["items_committed"] < phase["emails"]:
            found.append(f"{name}: {phase['emails'] - phase['items_committed']} emails without an item")
        if phase["apis"] > 1 and min(phase["webhooks_per_api"]) == 0:
            found.append(f"{name}: webhooks per API {phase['webhooks_per_api']}: not spread")
    return found


def summary(report: dict[str, Any], shapes: list[str]) -> dict[str, Any]:
    """The last line: each shape's figures and, against the first shape, each other's emails/s ratio."""
    line: dict[str, Any] = {name: figures(report[name]) for name in shapes if name in report}
    first = shapes[0]
    for name in shapes[1:]:
        if first in line and name in line:
            r = ratio(line[name]["emails_per_s"], line[first]["emails_per_s"])
            line[f"{name}_vs_{first}"] = None if r is None else round(r, 2)
    problems = failures(report, shapes)
    line.update(commit=report.get("commit"), cores=report.get("cores"), ok=not problems, failures=problems)
    return line


def main(argv: list[str] | None = None) -> int:
    opts = _options(list(sys.argv[1:] if argv is None else argv))
    shapes = [_name(*s) for s in opts.shapes]
    started = time.monotonic()
    report = asyncio.run(run(opts))
    line = summary(report, shapes)
    line["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    line["seconds"] = round(time.monotonic() - started, 1)
    report["summary"] = line
    print(f"written {write_report(report, 'scale-out')}")
    print(json.dumps(line), flush=True)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
