"""`python -m chaos`: runs each fault on the whole stack, one at a time, each while the standard load
flows (500 emails over 50 connections), and prints a table, fault by fault; then the backlog phases
(chaos/backlog.py). The last line is one JSON object with every figure. Exit status 1 when a check
failed.

Options: --faults (comma-separated names, default all: baseline, throttle, drop, repeat, worker-kill,
api-kill, revoke, temporal-restart, openbao-stop, board-store, db-writes, drain, disconnect), --emails (500),
--connections (50), --rate (emails per second, 20), --recover-timeout (seconds to wait for every item
after a fault, 600), --hold (seconds an emulator fault lasts after the last email, 15),
--openbao-seconds (30), --board-seconds (60), --db-seconds (30). The backlog: --messages (16,000),
--outage (seconds the worker is away, 120), --disconnect-messages (4,000), --disconnect-after (items
made before the disconnect, 300), --drain-timeout (seconds, 3,600: one mailbox's 16,000 emails take
about half an hour under Graph's per-mailbox limit of 10,000 requests in 10 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mail.stack import running_stack
from chaos.backlog import PhaseReport, disconnect_mid_drain, drain
from chaos.faults import catalogue
from chaos.run import LoadOptions, run_fault

RESULTS = Path(__file__).resolve().parent / "results"
FAULTS = [
    "baseline",
    "throttle",
    "drop",
    "repeat",
    "worker-kill",
    "api-kill",
    "revoke",
    "temporal-restart",
    "openbao-stop",
    "board-store",
    "db-writes",
]
BACKLOG = ["drain", "disconnect"]


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    parser.add_argument("--faults", default=",".join(FAULTS + BACKLOG))
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--recover-timeout", type=float, default=600.0)
    parser.add_argument("--hold", type=float, default=15.0)
    parser.add_argument("--openbao-seconds", type=float, default=30.0)
    parser.add_argument("--board-seconds", type=float, default=60.0)
    parser.add_argument("--db-seconds", type=float, default=30.0)
    parser.add_argument("--messages", type=int, default=16_000)
    parser.add_argument("--outage", type=float, default=120.0)
    parser.add_argument("--disconnect-messages", type=int, default=4_000)
    parser.add_argument("--disconnect-outage", type=float, default=30.0)
    parser.add_argument("--disconnect-after", type=int, default=300)
    parser.add_argument("--drain-timeout", type=float, default=3_600.0)
    opts = parser.parse_args(argv)
    chosen = [f.strip() for f in opts.faults.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FAULTS + BACKLOG]
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)} (known: {', '.join(FAULTS + BACKLOG)})")
    opts.chosen = chosen
    return opts


async def run(opts: argparse.Namespace) -> list[PhaseReport]:
    faults = catalogue(
        hold=opts.hold,
        openbao_seconds=opts.openbao_seconds,
        board_seconds=opts.board_seconds,
        db_seconds=opts.db_seconds,
    )
    load = LoadOptions(opts.emails, opts.connections, opts.rate, opts.recover_timeout)
    reports: list[PhaseReport] = []
    async with running_stack(naive=False, temporal_process=True) as stack:
        for name in [f for f in FAULTS if f in opts.chosen]:
            report = await run_fault(stack, faults[name], load)
            print(render_faults([report]).splitlines()[-1], flush=True)
            reports.append(report)
        if "drain" in opts.chosen:
            print("drain: the worker away while the backlog arrives", flush=True)
            reports.append(await drain(stack, opts.messages, opts.outage, opts.drain_timeout))
        if "disconnect" in opts.chosen:
            print("disconnect: a disconnect issued mid-drain", flush=True)
            reports.append(
                await disconnect_mid_drain(
                    stack, opts.disconnect_messages, opts.disconnect_outage, opts.disconnect_after
                )
            )
    return reports


def render_faults(reports: list[PhaseReport]) -> str:
    lines = [
        "| fault | items expected | made | duplicated | Graph calls before Retry-After "
        "| time to recover (s) | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        f = r.figures
        recover = "-" if f.get("recover_seconds") is None else f"{f['recover_seconds']:.1f}"
        verdict = "pass" if r.passed else "FAIL"
        lines.append(
            f"| {r.name} | {f.get('expected')} | {f.get('made')} | {f.get('duplicated')} "
            f"| {f.get('early_graph_calls')} | {recover} | {verdict} |"
        )
    return "\n".join(lines)


def render_checks(reports: list[PhaseReport]) -> str:
    lines = ["| fault | check | result | detail |", "|---|---|---|---|"]
    for report in reports:
        for check in report.checks:
            verdict = "pass" if check.passed else "FAIL"
            lines.append(f"| {report.name} | {check.name} | {verdict} | {check.detail} |")
    return "\n".join(lines)


def render(reports: list[PhaseReport]) -> str:
    faults = [r for r in reports if r.name in FAULTS]
    backlog = [r for r in reports if r.name not in FAULTS]
    parts = []
    if faults:
        parts.append(render_faults(faults))
    parts.append(render_checks(reports))
    for report in backlog:
        figures = ", ".join(f"{k} {v}" for k, v in report.figures.items())
        parts.append(f"{report.name}: {figures}")
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    opts = options(argv)
    started = datetime.now(UTC)
    reports = asyncio.run(run(opts))
    print(render(reports), flush=True)
    summary: dict[str, Any] = {
        "started": started.isoformat(),
        "options": {k: v for k, v in vars(opts).items() if k != "chosen"},
        "passed": all(r.passed for r in reports),
        **{
            r.name: {"figures": r.figures, "failed": [c.name for c in r.checks if not c.passed]}
            for r in reports
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{started:%Y-%m-%dT%H%M}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
