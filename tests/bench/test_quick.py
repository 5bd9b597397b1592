"""`make bench-quick`'s last line (bench/quick.summary: pure, no stack) and `make bench`'s README table
(rewritten between its markers only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from bench.mail_pipeline import failures, fit_todays_schema
from bench.quick import KEYS, README, README_END, README_START, readme_section, rewrite_readme, summary
from db.base import Base


def _phase(rate: float, p99_s: float, emails: int = 150, committed: int | None = None) -> dict[str, Any]:
    return {
        "emails": emails,
        "items_committed": emails if committed is None else committed,
        "emails_per_second": rate,
        "latency_p50_s": p99_s / 2,
        "latency_p99_s": p99_s,
        "events_per_email": 21.4,
        "graph_calls_per_email": 2.0,
        "cpu_ms_per_email": {"worker": 30.0, "all": 75.6},
        "load": [3.1, 4.0, 4.2],
    }


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "product_git": {"commit": "abc1234", "uncommitted": []},
        "product_burst": _phase(20.0, 9.0),
        "product_paced": {**_phase(10.0, 0.25, emails=100), "rate": 20.0},
        "today_burst": _phase(25.0, 8.0),
        "today_paced": _phase(10.0, 0.2, emails=100),
        "naive_burst": _phase(4.0, 40.0, committed=140),
        "ack": {"p50_ms": 20.0, "p99_ms": 123.45, "statuses": {202: 2000}},
    }
    report.update(changes)
    return report


EMULATOR = {"messages": 300, "created_unique": 300, "notifications": 600, "notifications_per_s": 512.3}


def test_the_last_line_has_the_issues_keys_first_and_is_one_json_line() -> None:
    line = summary(_report(), EMULATOR, seconds=250.0, date="2026-12-06 22:00 UTC")
    assert tuple(line)[: len(KEYS)] == KEYS
    text = json.dumps(line)
    assert "\n" not in text and json.loads(text) == line
    assert line["emails_per_s"] == 20.0
    assert line["baseline_emails_per_s"] == 25.0
    assert line["naive_emails_per_s"] == 4.0
    assert line["e2e_p99_ms"] == 250.0
    assert line["ack_p99_ms"] == 123.5
    assert line["history_events_per_email"] == 21.4
    assert line["graph_calls_per_email"] == 2.0
    assert line["baseline"].startswith("today ")
    assert line["emails_per_s_vs_baseline"] == 0.8
    assert line["emails_per_s_vs_naive"] == 5.0
    assert line["emulator_notifications_per_s"] == 512.3
    assert line["naive_items"] == "140 of 150 within its deadline"  # reported, not a failure
    assert line["ok"] is True and line["failures"] == []


def test_without_todays_design_the_naive_one_is_the_baseline() -> None:
    report = _report()
    del report["today_burst"], report["today_paced"]
    line = summary(report, EMULATOR)
    assert line["baseline"] == "naive"
    assert line["baseline_emails_per_s"] == line["naive_emails_per_s"] == 4.0


def test_a_phase_that_did_not_run_gives_nulls_with_every_key() -> None:
    line = summary(None, None, failures=["mail: RuntimeError: boom"])
    assert all(key in line and line[key] is None for key in KEYS)
    assert line["ok"] is False and line["failures"] == ["mail: RuntimeError: boom"]


def test_lost_emails_and_refused_acks_fail_the_run_missed_targets_do_not() -> None:
    assert failures(_report()) == []  # 20/s against a 40/s target, ack p99 123 ms: not failures
    lost = _report(product_burst=_phase(20.0, 9.0, committed=149))
    assert failures(lost) == ["product burst: 1 emails without an item"]
    refused = _report(ack={"p50_ms": 1.0, "p99_ms": 2.0, "statuses": {202: 10, 500: 1, 0: 2}})
    assert failures(refused) == ["webhook ack: unacknowledged POSTs by status {500: 1, 0: 2}"]
    dropped = _report(
        ack={"p50_ms": 1.0, "p99_ms": 2.0, "statuses": {202: 10}, "message_workflows_started": 0}
    )
    assert failures(dropped) == ["webhook ack: no notification became a message workflow (all dropped?)"]
    lost_notifications = {**EMULATOR, "created_unique": 299}
    assert summary(_report(), lost_notifications)["ok"] is False


def test_the_readme_is_rewritten_between_its_markers_only() -> None:
    text = f"# Bench\n\nhand-written\n\n{README_START}\nold table\n{README_END}\n\n## History\n| a | b |\n"
    line = summary(_report(), EMULATOR, date="2026-12-06 22:00 UTC")
    section = readme_section(line, "`python -m bench`")
    new = rewrite_readme(text, section)
    before, _, rest = new.partition(README_START)
    inside, _, after = rest.partition(README_END)
    assert before == "# Bench\n\nhand-written\n\n"
    assert after == "\n\n## History\n| a | b |\n"
    assert "old table" not in inside
    assert "| burst: emails/s (first delivery -> last item) | 20 | 25 (today " in inside
    assert "| 0.80x |" in inside and "2026-12-06 22:00 UTC" in inside
    assert "| paced at 20/s: delivery -> item p99 (ms) | 250 |" in inside  # the rate it was measured at
    assert rewrite_readme(new, section) == new  # a second run with the same figures changes nothing


def test_the_readme_rewrite_refuses_without_markers() -> None:
    with pytest.raises(ValueError):
        rewrite_readme("# no markers\n", "table")
    with pytest.raises(ValueError):
        rewrite_readme(f"{README_END}\n{README_START}\n", "table")


def test_the_bench_readme_has_the_markers() -> None:
    text = README.read_text()
    assert text.count(README_START) == 1 and text.count(README_END) == 1
    assert text.index(README_START) < text.index(README_END)


def test_todays_database_gets_the_tables_and_columns_the_current_models_add(tmp_path: Path) -> None:
    # As if the previous release's migrations made it: a column and a table of today's models missing.
    engine = create_engine(f"sqlite:///{tmp_path / 'today.db'}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text('ALTER TABLE "api_tokens" DROP COLUMN "expires_at"'))
        conn.execute(text('DROP TABLE "integration_creators"'))
    added = fit_todays_schema(engine)
    assert "integration_creators" in added and "api_tokens.expires_at" in added
    assert {c["name"] for c in inspect(engine).get_columns("api_tokens")} >= {"expires_at", "token_hash"}
    assert fit_todays_schema(engine) == []  # nothing more to add
    engine.dispose()
