"""`make bench`'s PostgreSQL column (bench/mail/postgres_column.py): its summary keys, its table cells, and
what it says when PostgreSQL is not installed (never a number measured on something else)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bench import mail_pipeline
from bench.mail import app_database, postgres_column
from bench.mail.api_process import settings_env
from bench.quick import readme_section, summary
from tests.support.appdb import make_settings


def _pg_report() -> dict[str, Any]:
    return {
        "app_database": app_database.describe("postgresql"),
        "temporal": app_database.TEMPORAL,
        "not_run": None,
        "product_burst": {
            "emails": 150,
            "items_committed": 150,
            "emails_per_second": 10.2239,
            "cpu_ms_per_email": {"all": 120.44},
            "load": [4.0, 3.0, 2.0],
        },
        "product_paced": {"emails": 100, "items_committed": 100, "latency_p99_s": 0.4321},
        "ack": {"p50_ms": 12.34, "p99_ms": 87.65, "statuses": {202: 2000}, "load": [5.0, 4.0, 3.0]},
    }


def _line(pg: dict[str, Any]) -> dict[str, Any]:
    burst = {"emails_per_second": 17.0, "emails": 150, "items_committed": 150}
    line = summary({"product_burst": burst}, None)
    line.update(pg)
    return line


def test_the_products_figures_on_postgresql_become_pg_keys() -> None:
    pg = postgres_column.figures(_pg_report())
    assert pg["pg_emails_per_s"] == 10.22
    assert pg["pg_e2e_p99_ms"] == 432.1
    assert pg["pg_ack_p99_ms"] == 87.7 and pg["pg_ack_p50_ms"] == 12.3
    assert pg["pg_cpu_ms_per_email"] == 120.4
    assert pg["pg_load"] == [4.0, 3.0, 2.0]
    assert pg["pg_status"] == "measured"
    assert "SQLite" in pg["pg_temporal"]  # Temporal did not move: the output says so


def test_the_table_gets_a_postgresql_column_beside_the_product() -> None:
    section = readme_section(_line(postgres_column.figures(_pg_report())), "`python -m bench`")
    assert f"| {postgres_column.HEADER} |" in section
    assert "| burst: emails/s (first delivery -> last item) | 17 | n/a (naive) | n/a | 10.22 |" in section
    assert "| webhook ack p99 (ms) | n/a | n/a | n/a | 87.7 |" in section
    # The app database does not change how many Graph calls an email takes: no cell there.
    assert "| Graph calls per email (burst) | n/a | n/a (naive) | n/a |  |" in section
    assert "cannot use PostgreSQL" in section and "[4.0, 3.0, 2.0]" in section


def test_without_postgresql_the_column_says_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_database, "available", lambda: False)
    assert app_database.missing("postgresql") == app_database.NOT_INSTALLED
    assert app_database.missing("sqlite") is None
    report: dict[str, Any] = {"not_run": app_database.missing("postgresql")}
    assert mail_pipeline.failures(report) == []  # not installed is not a failed run
    pg = postgres_column.figures(report)
    assert all(pg[key] is None for key in postgres_column.PG_KEYS.values())
    assert pg["pg_status"] == "not run: PostgreSQL not installed"
    section = readme_section(_line(pg), "`python -m bench`")
    assert "| webhook ack p99 (ms) | n/a | n/a | n/a | not run: PostgreSQL not installed |" in section
    assert "The PostgreSQL column: not run: PostgreSQL not installed." in section


def test_a_failed_postgresql_run_is_a_failure_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_argv: list[str]) -> dict[str, Any]:
        raise RuntimeError("no server")

    monkeypatch.setattr(mail_pipeline, "bench", boom)
    column = postgres_column.run(["--connections", "5"])
    assert column.report is None
    assert column.failures == ["mail on PostgreSQL: RuntimeError: no server"]
    assert column.figures["pg_status"] == "failed: RuntimeError: no server"
    assert postgres_column.cell(_line(column.figures), "emails_per_s") == "failed: RuntimeError: no server"


def test_the_second_run_asks_for_postgresql_and_the_product_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def record(argv: list[str]) -> dict[str, Any]:
        seen.append(argv)
        return _pg_report()

    monkeypatch.setattr(mail_pipeline, "bench", record)
    column = postgres_column.run(["--connections", "5"])
    assert seen == [["--connections", "5", "--app-db", "postgresql", "--skip-today", "--skip-naive"]]
    opts = mail_pipeline._options(seen[0])
    assert (opts.app_db, opts.skip_today, opts.skip_naive, opts.connections) == ("postgresql", True, True, 5)
    assert column.failures == [] and column.figures["pg_status"] == "measured"


def test_the_service_processes_get_the_app_database_url(tmp_path: Path) -> None:
    url = "postgresql://app@127.0.0.1:5999/postgres"
    on_postgres = make_settings(tmp_path).model_copy(update={"database_url": url})  # as stack._service
    assert settings_env(on_postgres)["DATABASE_URL"] == url
    # Empty: the default install's SQLite file under DATA_DIR (never a DATABASE_URL of this shell).
    assert settings_env(make_settings(tmp_path))["DATABASE_URL"] == ""


def test_a_mail_run_asked_for_postgresql_without_it_measures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_database, "available", lambda: False)
    report = asyncio.run(mail_pipeline.run(mail_pipeline._options(["--app-db", "postgresql"])))
    assert report["not_run"] == "not run: PostgreSQL not installed"
    assert not any(key.startswith("product_") and key != "product_git" for key in report)
    rendered = mail_pipeline.render(report)
    assert "cannot use PostgreSQL" in rendered and "not run: PostgreSQL not installed" in rendered
