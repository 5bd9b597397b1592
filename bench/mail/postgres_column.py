"""The PostgreSQL column of `make bench`: the product measured again in a second mail run whose app
database is a throwaway PostgreSQL (`--app-db postgresql`, bench/mail/app_database.py), with the first
run's sizes. Temporal stays the dev server on its SQLite file (it cannot use PostgreSQL); today's and the
naive design are not run again (the product's database is the only change). Its figures join the summary
line as `pg_*` keys and the generated README table as a column; without PostgreSQL's binaries the column
says so instead of holding a number."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from bench import mail_pipeline
from bench.mail.app_database import TEMPORAL

PG_MAIL = ["--app-db", "postgresql", "--skip-today", "--skip-naive"]

# The summary's product figures that get a PostgreSQL cell: summary key -> its pg_* key.
PG_KEYS = {
    "emails_per_s": "pg_emails_per_s",
    "e2e_p99_ms": "pg_e2e_p99_ms",
    "ack_p99_ms": "pg_ack_p99_ms",
    "cpu_ms_per_email": "pg_cpu_ms_per_email",
}
HEADER = "product, app DB on PostgreSQL"
MEASURED = "measured"


@dataclass
class Column:
    report: dict[str, Any] | None
    figures: dict[str, Any]
    failures: list[str]


def _round(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def figures(report: dict[str, Any] | None, failure: str | None = None) -> dict[str, Any]:
    """The pg_* keys of the summary line (pure), from a mail report as mail_pipeline.run returns it:
    null where a figure was not measured, and `pg_status` saying why ("not run: ...", "failed: ...")."""
    report = report or {}
    burst = report.get("product_burst") or {}
    p99_s = (report.get("product_paced") or {}).get("latency_p99_s")
    ack = report.get("ack") or {}
    status = report.get("not_run") or (f"failed: {failure}" if failure else MEASURED)
    return {
        "pg_emails_per_s": _round(burst.get("emails_per_second")),
        "pg_e2e_p99_ms": _round(None if p99_s is None else p99_s * 1000, 1),
        "pg_ack_p99_ms": _round(ack.get("p99_ms"), 1),
        "pg_ack_p50_ms": _round(ack.get("p50_ms"), 1),
        "pg_cpu_ms_per_email": _round((burst.get("cpu_ms_per_email") or {}).get("all"), 1),
        "pg_load": burst.get("load"),
        "pg_ack_load": ack.get("load"),
        "pg_status": status,
        "pg_temporal": TEMPORAL,
    }


def run(argv: list[str]) -> Column:
    """The second mail run (`argv` plus PG_MAIL: the later options win); a run raising is a failure of
    `make bench`, reported like the first run's."""
    try:
        report = mail_pipeline.bench([*argv, *PG_MAIL])
    except Exception as e:  # reported in the summary and the exit status
        traceback.print_exc()
        failure = f"{type(e).__name__}: {e}"
        return Column(None, figures(None, failure), [f"mail on PostgreSQL: {failure}"])
    failed = [f"mail on PostgreSQL: {f}" for f in mail_pipeline.failures(report)]
    return Column(report, figures(report, "; ".join(failed) or None), failed)


def cell(line: dict[str, Any], key: str) -> str:
    """The PostgreSQL cell of the table's row for the summary's `key`: its figure, why there is none, or
    empty for a row the app database does not change (history events, Graph calls, the emulator)."""
    pg_key = PG_KEYS.get(key)
    if pg_key is None:
        return ""
    value = line.get(pg_key)
    if value is not None:
        return f"{value:g}"
    status = line.get("pg_status")
    return "n/a" if status in (None, MEASURED) else str(status)


def note(line: dict[str, Any]) -> str:
    """What the table's header sentence says of the PostgreSQL column."""
    status = line.get("pg_status")
    if status is None:
        return "The PostgreSQL column was not part of this run."
    if status != MEASURED and line.get("pg_emails_per_s") is None:
        return f"The PostgreSQL column: {status}."
    return (
        "The PostgreSQL column is the product again, in a second run of the same sizes with its app "
        f"database on a throwaway PostgreSQL (fsync on; `--app-db postgresql`; today's and the naive "
        f"design not run again); {TEMPORAL}; load average {line.get('pg_load')} after its burst"
        + ("." if status == MEASURED else f"; {status}.")
    )
