"""`make bench-quick` (`python -m bench quick` or `python -m bench.quick`): a short form of every benchmark
in at most 5 minutes on the 2-core machine, against the baselines the full benchmark uses, measured in
the same run. The mail pipeline is bench/mail_pipeline.py's own phases with small options (QUICK_MAIL);
the emulator benchmark is bench/emulator_notifications.py's with fewer messages.

The last line printed is one JSON object (`summary`): the product's figures, its baselines' and their
ratios. Exit status 1 only when the run itself failed (an email without its item, a webhook POST not
acknowledged, an emulator notification lost, a phase raising), never because a speed target was missed.

This module also holds what `make bench` (`python -m bench`) does with a full run's figures: the same
summary, written to bench/results/<date>.json, and the generated table in bench/README.md (between
README_START and README_END, `rewrite_readme`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import emulator_notifications, mail_pipeline
from bench.mail import postgres_column
from bench.mail.stats import ratio
from bench.mail.today import TODAY_COMMIT

# The short form of `python -m bench mail`: every phase, small. 20 connections per design, a burst of
# 150, 10 s paced at 10/s; the naive design's burst only, of 40 (at 1-4 emails/s here, 150 took its
# whole deadline and its paced phase takes minutes), waited for 40 s; 10 s of webhook acks at 200/s over
# 40 connections (connecting 180 more for 200 took 139 s under load, and a run with 60 connections and a
# 60 s naive deadline took 303 s: the budget is 5 minutes); the ack phase's leftover message workflows
# are not waited for.
QUICK_MAIL = [
    "--connections", "20",
    "--burst", "150",
    "--paced-rate", "10",
    "--paced-seconds", "10",
    "--naive-burst", "40",
    "--skip-naive-paced",
    "--naive-timeout", "40",
    "--ack-rate", "200",
    "--ack-seconds", "10",
    "--ack-connections", "40",
    "--no-ack-settle",
]  # fmt: skip
QUICK_EMULATOR_MESSAGES = 300
EMULATOR_CONCURRENCY = 4

# The keys the last line always has (issue 14), in this order; extras follow.
KEYS = (
    "emails_per_s",
    "baseline_emails_per_s",
    "naive_emails_per_s",
    "e2e_p99_ms",
    "ack_p99_ms",
    "history_events_per_email",
    "graph_calls_per_email",
)

README = Path(__file__).resolve().parent / "README.md"
README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def _get(report: dict[str, Any], phase: str, key: str) -> float | None:
    value = (report.get(phase) or {}).get(key)
    return None if value is None else float(value)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def emulator_figures(result: emulator_notifications.Result) -> dict[str, Any]:
    """What the summary keeps of the emulator benchmark."""
    return {
        "messages": result.messages,
        "created_unique": result.created_unique,
        "notifications": result.notifications,
        "notifications_per_s": result.per_second_overall,
    }


def summary(
    mail: dict[str, Any] | None,
    emulator: dict[str, Any] | None,
    *,
    failures: list[str] | None = None,
    seconds: float | None = None,
    date: str | None = None,
) -> dict[str, Any]:
    """The one-line result (pure: from a mail report as `mail_pipeline.run` returns it and
    `emulator_figures`). The baseline is today's design (the previous release) when it ran, else the
    naive design (`baseline` says which). Figures that were not measured are null."""
    mail = mail or {}
    emulator = emulator or {}
    failures = list(failures or [])
    today_ran = "today_burst" in mail
    base = "today" if today_ran else "naive"
    product_eps = _get(mail, "product_burst", "emails_per_second")
    base_eps = _get(mail, f"{base}_burst", "emails_per_second")
    naive_eps = _get(mail, "naive_burst", "emails_per_second")
    ack = mail.get("ack") or {}
    line: dict[str, Any] = {
        "emails_per_s": _round(product_eps),
        "baseline_emails_per_s": _round(base_eps),
        "naive_emails_per_s": _round(naive_eps),
        "e2e_p99_ms": _round(_ms(_get(mail, "product_paced", "latency_p99_s")), 1),
        "ack_p99_ms": _round(ack.get("p99_ms"), 1),
        "history_events_per_email": _round(_get(mail, "product_burst", "events_per_email")),
        "graph_calls_per_email": _round(_get(mail, "product_burst", "graph_calls_per_email")),
        # Extras: which baseline, the ratios, the baselines' other figures, the emulator, the run.
        "baseline": f"today {TODAY_COMMIT[:7]}" if today_ran else "naive",
        "emails_per_s_vs_baseline": _round(ratio(product_eps, base_eps)),
        "emails_per_s_vs_naive": _round(ratio(product_eps, naive_eps)),
        "baseline_e2e_p99_ms": _round(_ms(_get(mail, f"{base}_paced", "latency_p99_s")), 1),
        "baseline_history_events_per_email": _round(_get(mail, f"{base}_burst", "events_per_email")),
        "baseline_graph_calls_per_email": _round(_get(mail, f"{base}_burst", "graph_calls_per_email")),
        "naive_history_events_per_email": _round(_get(mail, "naive_burst", "events_per_email")),
        "paced_rate": _get(mail, "product_paced", "rate"),  # emails/s of e2e_p99_ms
        "e2e_p50_ms": _round(_ms(_get(mail, "product_paced", "latency_p50_s")), 1),
        "ack_p50_ms": _round(ack.get("p50_ms"), 1),
        "cpu_ms_per_email": _round(
            ((mail.get("product_burst") or {}).get("cpu_ms_per_email") or {}).get("all"), 1
        ),
        "baseline_cpu_ms_per_email": _round(
            ((mail.get(f"{base}_burst") or {}).get("cpu_ms_per_email") or {}).get("all"), 1
        ),
        "emulator_notifications_per_s": _round(emulator.get("notifications_per_s"), 1),
        "burst_emails": (mail.get("product_burst") or {}).get("emails"),
        "load": (mail.get("product_burst") or {}).get("load"),
        "commit": (mail.get("product_git") or {}).get("commit"),
        "date": date,
        "seconds": _round(seconds, 1),
        "mail_phase_seconds": {k: round(v, 1) for k, v in (mail.get("phase_seconds") or {}).items()},
    }
    naive = mail.get("naive_burst")
    if naive is not None and naive["items_committed"] < naive["emails"]:
        line["naive_items"] = f"{naive['items_committed']} of {naive['emails']} within its deadline"
    if emulator and emulator.get("created_unique") != emulator.get("messages"):
        failures.append(f"emulator: {emulator.get('created_unique')} of {emulator.get('messages')} notified")
    line["ok"] = not failures
    line["failures"] = failures
    return line


# The generated README table: (figure, key of the product's value, key of the baseline's value, target).
TABLE = [
    ("burst: emails/s (first delivery -> last item)", "emails_per_s", "baseline_emails_per_s",
     ">= 40/s; >= 1.0x today; >= 2.5x naive"),
    ("burst: emails/s, naive design", "emails_per_s", "naive_emails_per_s", ">= 2.5x naive"),
    ("paced at {paced_rate}/s: delivery -> item p99 (ms)", "e2e_p99_ms", "baseline_e2e_p99_ms",
     "<= 300 ms at 20/s"),
    ("webhook ack p99 (ms)", "ack_p99_ms", None, "<= 50 ms at 200/s over 1,000 connections"),
    ("history events per email (burst)", "history_events_per_email", "baseline_history_events_per_email", ""),
    ("Graph calls per email (burst)", "graph_calls_per_email", "baseline_graph_calls_per_email", ""),
    ("CPU ms per email, all processes (burst)", "cpu_ms_per_email", "baseline_cpu_ms_per_email", ""),
    ("emulator: notifications/s", "emulator_notifications_per_s", None, ">= 500/s"),
]  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def readme_section(line: dict[str, Any], options: str) -> str:
    """The generated table (between the markers): each figure, its baseline, the ratio, the date."""
    date = line.get("date") or "n/a"
    rows = [
        f"Generated by `make bench` ({options}) on {date}, product at {_cell(line.get('commit'))}, "
        f"load average {_cell(line.get('load'))} after the product's burst; baseline = "
        f"{line['baseline']} measured in the same run. {postgres_column.note(line)} "
        "Do not edit by hand: the next run rewrites it.",
        "",
        f"| figure | product | baseline | product/baseline | {postgres_column.HEADER} | target | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, key, base_key, target in TABLE:
        value = line.get(key)
        base = line.get(base_key) if base_key else None
        baseline = "naive" if base_key == "naive_emails_per_s" else line["baseline"]
        r = ratio(value, base)
        label = label.format(paced_rate=_cell(line.get("paced_rate")))
        rows.append(
            f"| {label} | {_cell(value)} | {_cell(base)}{f' ({baseline})' if base_key else ''} "
            f"| {'n/a' if r is None else f'{r:.2f}x'} | {postgres_column.cell(line, key)} "
            f"| {target} | {date} |"
        )
    if line.get("failures"):
        rows += ["", f"The run failed: {'; '.join(line['failures'])}."]
    return "\n".join(rows)


def rewrite_readme(text: str, section: str) -> str:
    """`text` with everything between README_START and README_END replaced by `section`; nothing else
    changes. Raises ValueError when the markers are missing or out of order."""
    start = text.find(README_START)
    end = text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{README_START} ... {README_END} not found in order")
    head = text[: start + len(README_START)]
    return f"{head}\n{section.strip()}\n{text[end:]}"


@contextmanager
def _without_ca_bundles() -> Iterator[None]:
    """As `python -m bench emulator` runs: requests (under MSAL) would let these override MSAL's
    verify=<emulator CA>. Restored afterwards."""
    saved = {k: os.environ.pop(k) for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def run_emulator(messages: int) -> tuple[emulator_notifications.Result, dict[str, Any]]:
    with _without_ca_bundles():
        result = asyncio.run(emulator_notifications.run(messages, EMULATOR_CONCURRENCY))
    print(emulator_notifications.render(result), flush=True)
    return result, emulator_figures(result)


@dataclass
class Outcome:
    mail: dict[str, Any] | None
    emulator: dict[str, Any] | None
    failures: list[str]


def run_all(mail_argv: list[str], emulator_messages: int) -> Outcome:
    """The mail pipeline (`mail_argv`) then the emulator benchmark; a phase raising is a failure of the
    run (recorded, the other benchmark still runs)."""
    outcome = Outcome(None, None, [])
    try:
        outcome.mail = mail_pipeline.bench(mail_argv)
        outcome.failures += mail_pipeline.failures(outcome.mail)
    except Exception as e:  # reported in the summary and the exit status
        traceback.print_exc()
        outcome.failures.append(f"mail: {type(e).__name__}: {e}")
    try:
        _, outcome.emulator = run_emulator(emulator_messages)
    except Exception as e:
        traceback.print_exc()
        outcome.failures.append(f"emulator: {type(e).__name__}: {e}")
    return outcome


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def main(argv: list[str] | None = None) -> int:
    """`python -m bench quick [mail options...]`: extra options are passed to the mail pipeline after
    QUICK_MAIL's (the later one wins), e.g. `--skip-today`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    outcome = run_all([*QUICK_MAIL, *argv], QUICK_EMULATOR_MESSAGES)
    line = summary(
        outcome.mail,
        outcome.emulator,
        failures=outcome.failures,
        seconds=time.monotonic() - started,
        date=_now(),
    )
    mail_pipeline.write_report({"summary": line, "mail": outcome.mail, "emulator": outcome.emulator}, "quick")
    sys.stderr.flush()
    print(json.dumps(line), flush=True)
    return 0 if line["ok"] else 1


def bench_all(argv: list[str]) -> int:
    """`make bench` (`python -m bench` with no names): every benchmark in full (the mail pipeline with
    `argv`), the mail pipeline again with the product's app database on PostgreSQL (the table's PostgreSQL
    column), then bench/results/<date>.json and the generated table in bench/README.md."""
    started = time.monotonic()
    outcome = run_all(argv, 1000)
    # The second column: the product again, its app database on PostgreSQL (bench/mail/postgres_column.py).
    pg = postgres_column.run(argv)
    line = summary(
        outcome.mail,
        outcome.emulator,
        failures=outcome.failures + pg.failures,
        seconds=time.monotonic() - started,
        date=_now(),
    )
    line.update(pg.figures)
    day = datetime.now(UTC).strftime("%Y-%m-%dT%H%MZ")
    out = mail_pipeline.RESULTS / f"{day}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "summary": line,
                "mail": outcome.mail,
                "mail_postgresql": pg.report,
                "emulator": outcome.emulator,
            },
            indent=2,
            default=str,
        )
    )
    options = "`python -m bench" + (" " + " ".join(argv) if argv else "") + "`"
    README.write_text(rewrite_readme(README.read_text(), readme_section(line, options)))
    print(f"written {out} and the results table in {README}")
    print(json.dumps(line), flush=True)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
