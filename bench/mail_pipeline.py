"""`python -m bench mail`: incoming mail through the real service, against two baselines in the same run:
today's design (the previous release, run from a git worktree: bench/mail/today.py) and a naive design.

Starts Temporal, OpenBao, the emulator, the API and the worker itself (bench/mail/stack.py), and the
previous release's API and worker beside them; connects mailboxes through real OAuth (each design's
through its own API), then measures: end-to-end emails/s (burst) and latency at a paced rate, Temporal
history events, Graph calls and CPU per email, for the product and today's design; then the same emails
through the naive design (bench/naive/); then webhook ack latency under an open-loop notification load.
Prints a table and writes bench/results/mail-<timestamp>.json. See bench/README.md for what each figure
means. Each phase is a function of its own (`designs_phases`, `naive_phase`, `ack_phase`; `run` calls
them in order): `make bench-quick` (bench/quick.py) runs the same ones with small options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select, text, update
from temporalio.client import WorkflowHandle

from bench.mail.api_process import restart_api
from bench.mail.app_database import APP_DATABASES, TEMPORAL, app_database, describe, missing
from bench.mail.drivers import Mailbox, post_notifications_elsewhere, subscriptions
from bench.mail.measure import of_type
from bench.mail.naive_drive import detach_product, naive_notifier, start_naive
from bench.mail.phases import Design, connect_mailboxes, measure, settle
from bench.mail.stack import NAIVE_QUEUE, running_stack
from bench.mail.stats import fmt, percentile, ratio
from bench.mail.today import TODAY_COMMIT, today_service
from db import accounts, permissions  # noqa: F401  (registers their tables)
from db.base import Base
from db.connections import Connection
from db.engine import session_scope
from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, new_mailbox, pre_answer_consent, wait_status
from tests.recipes.support import SUPPORT_BOARD, recipe_body

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
    # Issue 14's rate: paced 20 emails/s with p99 <= 300 ms. (At 10/s before 2026-12-07.)
    p.add_argument("--paced-rate", type=float, default=20.0)
    p.add_argument("--paced-seconds", type=float, default=20.0)
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--skip-naive-paced", action="store_true", help="the naive design's burst only")
    p.add_argument(
        "--naive-burst", type=int, default=None, help="the naive design's burst (default: --burst)"
    )
    p.add_argument(
        "--naive-timeout", type=float, default=300.0, help="seconds the naive phases wait for items"
    )
    p.add_argument("--skip-today", action="store_true", help="no baseline of the previous release")
    p.add_argument("--today-first", action="store_true", help="measure today's design before the product")
    p.add_argument("--skip-ack", action="store_true")
    p.add_argument(
        "--no-ack-settle",
        dest="ack_settle",
        action="store_false",
        help="end without waiting for the message workflows the webhook phase started",
    )
    p.add_argument("--api-in-process", action="store_true", help="uvicorn in the benchmark's own process")
    p.add_argument(
        "--app-db",
        choices=APP_DATABASES,
        default="sqlite",
        help="the product's app database (Temporal stays the dev server on SQLite); today's design keeps "
        "its own SQLite file",
    )
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


def fit_todays_schema(engine: Engine) -> list[str]:
    """The benchmark makes each mailbox's owner (account, user, API token) with the current code's
    models (tests/support/appdb.add_user), also in today's database, which today's own migrations made:
    tables and columns added since that release are added there too (missing tables created, missing
    columns added as nullable). Additive only: today's code never reads them. What was added."""
    inspector = inspect(engine)
    known = set(inspector.get_table_names())
    added = [t.name for t in Base.metadata.sorted_tables if t.name not in known]
    Base.metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in known:
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
                    added.append(f"{table.name}.{column.name}")
    return added


async def connect_todays_mailboxes(today: Stack, count: int, concurrency: int = 6) -> list[Mailbox]:
    """As phases.connect_mailboxes, through the previous release's API, which starts a consent with
    `GET /connect/outlook` (the current tests' helper POSTs the connections page's form with its CSRF
    token, which that release's pages do not have)."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Mailbox:
        async with gate:
            email = await new_mailbox(today)
            browser, token = await today.signed_in_user(f"owner-{email}")
            async with contextlib.aclosing(browser):
                await pre_answer_consent(today, email)
                page = await browser.get(f"{today.api_url}/connect/outlook", params={"scopes": "incoming"})
                if page.status_code != 200 or not page.url.path.startswith("/connections/"):
                    raise RuntimeError(f"connecting to today's design: {page.status_code} {page.url}")
                connection_id = page.url.path.rsplit("/", 1)[1]
            await wait_status(today, token, connection_id, "active")
            board = await api_call(today, token, "POST", "/api/boards", json=SUPPORT_BOARD)
            board.raise_for_status()
            board_id = board.json()["id"]
            recipe = await api_call(
                today, token, "POST", "/api/recipes", json=recipe_body(connection_id, board_id)
            )
            recipe.raise_for_status()
            return Mailbox(email, token, connection_id, board_id)

    return list(await asyncio.gather(*(one() for _ in range(count))))


# (name, its stack, its mailboxes, its design): the product, and today's design beside it.
Measured = tuple[str, Stack, list[Mailbox], Design]


async def designs_phases(report: dict[str, Any], designs: list[Measured], opts: argparse.Namespace) -> None:
    """Burst then paced, each design in turn (the other idles meanwhile): `<design>_burst` and
    `<design>_paced` in the report."""
    for name, on, its_boxes, design in designs:
        report[f"{name}_burst"] = await measure(on, its_boxes, design, burst=opts.burst)
        report[f"{name}_burst"]["load"] = _load()
        print(f"{name} burst: {report[f'{name}_burst']}", flush=True)
    for name, on, its_boxes, design in designs:
        report[f"{name}_paced"] = await measure(
            on, its_boxes, design, rate=opts.paced_rate, seconds=opts.paced_seconds
        )
        report[f"{name}_paced"]["load"] = _load()
        report[f"{name}_paced"]["rate"] = opts.paced_rate
        print(f"{name} paced: {report[f'{name}_paced']}", flush=True)


def _subscription_ids(stack: Stack) -> dict[uuid.UUID, str | None]:
    with session_scope(stack.engine) as session:
        return dict(session.execute(select(Connection.id, Connection.subscription_id)).tuples().all())


def _reattach_product(stack: Stack, ids: dict[uuid.UUID, str | None]) -> None:
    """Undoes detach_product: the subscription ids back in the app DB, the API processes restarted
    (their caches start empty), so the product's webhook routes its mailboxes again."""
    with session_scope(stack.engine) as session:
        for connection_id, subscription_id in ids.items():
            session.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(subscription_id=subscription_id)
            )
    restart_api(stack.api_url)


async def _terminate_after(handles: dict[str, WorkflowHandle[Any, Any]], seconds: float) -> None:
    """Ends the naive connection workflows after `seconds`; their children end with them (parent close
    policy: terminate), so nothing of the naive design runs on afterwards."""
    await asyncio.sleep(seconds)
    for h in handles.values():
        with contextlib.suppress(Exception):
            await h.terminate("benchmark over")


async def naive_phase(
    report: dict[str, Any], stack: Stack, boxes: list[Mailbox], opts: argparse.Namespace, *, reattach: bool
) -> None:
    """The same emails through the naive design on the product's mailboxes (the product's webhook stops
    routing them meanwhile; `reattach=True` gives them back to it afterwards): `naive_burst` and, unless
    `--skip-naive-paced`, `naive_paced`."""
    ids = _subscription_ids(stack)
    detach_product(stack)
    handles = await start_naive(stack.env.client, boxes)
    naive = Design(
        "naive",
        "NaiveMessageWorkflow",
        "NaiveConnectionWorkflow",
        NAIVE_QUEUE,
        on_sent=naive_notifier(handles),
    )
    try:
        for mode in ("burst", "paced"):
            if mode == "paced" and opts.skip_naive_paced:
                break
            # A burst that is the naive design's last phase ends its workflows a few seconds after its
            # items stop being waited for (the burst is delivered in seconds): the phase's own wait for
            # them to finish (up to 2 minutes) would be spent on stragglers, whose activities retry with
            # the default backoff. Not for the paced phase: its delivery alone takes --paced-seconds.
            ending = (
                asyncio.create_task(_terminate_after(handles, opts.naive_timeout + 10))
                if mode == "burst" and opts.skip_naive_paced
                else None
            )
            try:
                if mode == "burst":
                    phase = await measure(
                        stack, boxes, naive, burst=opts.naive_burst or opts.burst, timeout=opts.naive_timeout
                    )
                else:
                    phase = await measure(
                        stack,
                        boxes,
                        naive,
                        rate=opts.paced_rate,
                        seconds=opts.paced_seconds,
                        timeout=opts.naive_timeout,
                    )
            finally:
                if ending is not None:
                    ending.cancel()
            phase["load"] = _load()
            report[f"naive_{mode}"] = phase
            print(f"naive {mode}: {phase}", flush=True)
    finally:
        await _terminate_after(handles, 0)
        if reattach:
            _reattach_product(stack, ids)


async def _started_since(stack: Stack, since: datetime) -> int:
    query = of_type("MessageWorkflow", stack.settings.temporal_task_queue)
    counted = await stack.env.client.count_workflows(f"{query} AND StartTime > '{since.isoformat()}'")
    return counted.count


async def ack_phase(
    report: dict[str, Any],
    stack: Stack,
    boxes: list[Mailbox],
    opts: argparse.Namespace,
    *,
    settle_after: bool,
) -> None:
    """Webhook ack latency under an open-loop notification load over `--ack-connections` mailboxes
    (more are connected first, connections only): `ack` in the report."""
    t = time.monotonic()
    extra = await connect_mailboxes(
        stack, max(0, opts.ack_connections - len(boxes)), concurrency=12, with_recipe=False
    )
    took = report["ack_connect_seconds"] = time.monotonic() - t
    print(f"connected {len(extra)} more mailboxes in {took:.1f} s", flush=True)
    ack_boxes = {b.email for b in [*boxes, *extra]}
    subs = [s for s in await subscriptions(stack) if s.mailbox in ack_boxes]
    since = datetime.now(UTC)
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
        # Proof that the notifications were taken, not refused: message workflows started since
        # (warm-up included; the forwarder may still be behind, so a lower bound).
        "message_workflows_started": await _started_since(stack, since),
    }
    print(f"ack: {report['ack']}", flush=True)
    if settle_after:
        # Each made-up message id became a message workflow (and a Graph 404): let them end.
        await settle(stack.env.client, of_type("MessageWorkflow", stack.settings.temporal_task_queue))
    api_log = stack.settings.data_dir / "api.log"
    if api_log.exists():
        report["api_log_tail"] = api_log.read_text(errors="replace")[-4000:]


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    """Every phase the options ask for, in this order: connect; burst and paced for the product and
    today's design; the naive design on the product's mailboxes; the webhook ack phase last (it leaves
    a message workflow per made-up message id behind, which would slow whatever followed)."""
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "options": vars(opts)}
    report["load_at_start"] = _load()
    report["today_commit"] = None if opts.skip_today else TODAY_COMMIT
    report["product_git"] = _git_state()
    report["app_database"] = describe(opts.app_db)
    report["temporal"] = TEMPORAL
    not_run = report["not_run"] = missing(opts.app_db)
    if not_run is not None:
        # Never a figure measured elsewhere in its place: the phases are absent, so every figure is null.
        return report
    started = time.monotonic()
    async with (
        app_database(opts.app_db) as database_url,
        running_stack(api_in_process=opts.api_in_process, database_url=database_url) as stack,
        _today(stack, opts.skip_today) as today,
    ):
        t = time.monotonic()
        boxes = await connect_mailboxes(stack, opts.connections)
        report["connect_seconds"] = time.monotonic() - t
        print(f"connected {len(boxes)} mailboxes in {report['connect_seconds']:.1f} s", flush=True)
        product = Design(
            "product", "MessageWorkflow", "ConnectionWorkflow", stack.settings.temporal_task_queue
        )
        designs: list[Measured] = [("product", stack, boxes, product)]
        if today is not None:
            report["today_schema_added"] = fit_todays_schema(today.engine)
            t = time.monotonic()
            today_boxes = await connect_todays_mailboxes(today, opts.connections)
            report["today_connect_seconds"] = time.monotonic() - t
            print(f"connected {len(today_boxes)} mailboxes to today's design", flush=True)
            old = Design("today", "MessageWorkflow", "ConnectionWorkflow", today.settings.temporal_task_queue)
            designs.append(("today", today, today_boxes, old))
            if opts.today_first:
                designs.reverse()
        # Wall time of each part (where a short run's minutes go).
        took = report["phase_seconds"] = {"start_and_connect": time.monotonic() - started}
        t = time.monotonic()
        await designs_phases(report, designs, opts)
        took["burst_and_paced"] = time.monotonic() - t
        if not opts.skip_naive:
            t = time.monotonic()
            await naive_phase(report, stack, boxes, opts, reattach=not opts.skip_ack)
            took["naive"] = time.monotonic() - t
        if not opts.skip_ack:
            t = time.monotonic()
            await ack_phase(report, stack, boxes, opts, settle_after=opts.ack_settle)
            took["ack"] = time.monotonic() - t
    report["finished"] = datetime.now(UTC).isoformat()
    return report


def failures(report: dict[str, Any]) -> list[str]:
    """What makes the run itself a failure (never a missed speed target): an email of the product or of
    today's design without its item, a webhook POST not acknowledged (non-2xx or no answer). The naive
    design is allowed to be late (its phases have a deadline): its shortfall is reported, not failed."""
    found = []
    for design in ("product", "today"):
        for mode in ("burst", "paced"):
            phase = report.get(f"{design}_{mode}")
            if phase is not None and phase["items_committed"] < phase["emails"]:
                found.append(
                    f"{design} {mode}: {phase['emails'] - phase['items_committed']} emails without an item"
                )
    ack = report.get("ack")
    if ack is not None:
        refused = {code: n for code, n in ack["statuses"].items() if not 200 <= int(code) < 300}
        if refused:
            found.append(f"webhook ack: unacknowledged POSTs by status {refused}")
        if ack.get("message_workflows_started") == 0:
            found.append("webhook ack: no notification became a message workflow (all dropped?)")
    return found


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
    lines = [f"app database: {report.get('app_database')}; {report.get('temporal')}"]
    if report.get("not_run"):
        return "\n".join([*lines, f"mail benchmark {report['not_run']}"])
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


def write_report(report: dict[str, Any], prefix: str = "mail") -> Path:
    """bench/results/<prefix>-<timestamp>.json (gitignored): every figure of the run."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    return out


def bench(argv: list[str]) -> dict[str, Any]:
    """`python -m bench mail ARGS`: runs, prints the table, writes the JSON; the report."""
    report = asyncio.run(run(_options(argv)))
    print(render(report))
    print(f"written {write_report(report)}")
    return report


def main(argv: list[str]) -> int:
    failed = failures(bench(argv))
    for failure in failed:
        print(f"FAILED: {failure}")
    return 1 if failed else 0
