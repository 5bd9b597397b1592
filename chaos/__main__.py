"""`python -m chaos`: runs each fault on the whole stack and prints a table, fault by fault; the last
line is one JSON object with every figure. Exit status 1 when a check failed.

Options: --messages (the drain backlog, 16,000 by default), --outage (seconds the worker is away, 120),
--disconnect-messages (the backlog the disconnect is issued into, 4,000), --disconnect-after (items made
before the disconnect, 300), --drain-timeout (seconds, 3,600: one mailbox's 16,000 emails take about
half an hour under Graph's per-mailbox limit of 10,000 requests in 10 minutes, two requests an email).
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

RESULTS = Path(__file__).resolve().parent / "results"


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    parser.add_argument("--messages", type=int, default=16_000)
    parser.add_argument("--outage", type=float, default=120.0)
    parser.add_argument("--disconnect-messages", type=int, default=4_000)
    parser.add_argument("--disconnect-outage", type=float, default=30.0)
    parser.add_argument("--disconnect-after", type=int, default=300)
    parser.add_argument("--drain-timeout", type=float, default=3_600.0)
    return parser.parse_args(argv)


async def run(opts: argparse.Namespace) -> list[PhaseReport]:
    async with running_stack(naive=False) as stack:
        print("drain: the worker away while the backlog arrives", flush=True)
        first = await drain(stack, opts.messages, opts.outage, opts.drain_timeout)
        print("disconnect: a disconnect issued mid-drain", flush=True)
        second = await disconnect_mid_drain(
            stack, opts.disconnect_messages, opts.disconnect_outage, opts.disconnect_after
        )
    return [first, second]


def render(reports: list[PhaseReport]) -> str:
    lines = ["| fault | check | result | detail |", "|---|---|---|---|"]
    for report in reports:
        for check in report.checks:
            verdict = "pass" if check.passed else "FAIL"
            lines.append(f"| {report.name} | {check.name} | {verdict} | {check.detail} |")
    for report in reports:
        figures = ", ".join(f"{k} {v}" for k, v in report.figures.items())
        lines.append(f"\n{report.name}: {figures}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    opts = _options(argv)
    started = datetime.now(UTC)
    reports = asyncio.run(run(opts))
    print(render(reports), flush=True)
    summary: dict[str, Any] = {
        "started": started.isoformat(),
        "options": vars(opts),
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
