"""api/activity_chart.py: the last 7 days of a connection's incoming email per hour and outcome, counted
by the database (SQLite here, PostgreSQL below) and drawn as an SVG chart."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import activitylog
import activitylog.log
from api.activity_chart import HOURS, SERIES, HourCounts, hourly_counts, render_chart, window_start
from db.engine import create_db_engine
from db.migrate import upgrade_to_head
from tests.db.postgres_server import available, running_postgres
from tests.recipes.support import add_connection
from tests.support.appdb import add_user

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 12, 6, 14, 30, tzinfo=UTC)


def record_at(
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    moment: datetime,
    connection_id: str,
    message_id: str,
    outcome: str,
    direction: str = "incoming",
    details: list[dict[str, Any]] | None = None,
) -> None:
    """An outcome written by the product's writer, as if it were `moment` when it wrote it."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Clock:
            return moment  # type: ignore[return-value]

    with monkeypatch.context() as patch:
        patch.setattr(activitylog.log, "datetime", Clock)
        activitylog.record_outcome(
            engine,
            connection_id,
            message_id,
            outcome,
            f"{outcome} because",
            0,
            direction=direction,
            details=details,
        )


def counts_of(engine: Engine, connection_id: str, now: datetime = NOW) -> list[HourCounts]:
    with Session(engine) as session:
        return hourly_counts(session, uuid.UUID(connection_id), now)


def by_hour(counts: list[HourCounts]) -> dict[datetime, tuple[int, int, int]]:
    return {c.start: (c.processed, c.skipped, c.failed) for c in counts if c.total}


def check_hour_edges(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name=f"acme-{uuid.uuid4().hex[:6]}")
    connection_id = add_connection(engine, user_id)
    hour = NOW.replace(minute=0)  # 14:00
    tick = timedelta(microseconds=1)
    for moment, message_id, outcome in [
        (hour, "at-14:00", "processed"),
        (NOW, "at-14:30", "processed"),
        (hour - tick, "just-before-14", "processed"),
        (hour - timedelta(hours=1), "at-13:00", "skipped"),
        (hour - timedelta(hours=1) - tick, "just-before-13", "failed"),
    ]:
        record_at(monkeypatch, engine, moment, connection_id, message_id, outcome)

    counts = counts_of(engine, connection_id)
    assert len(counts) == HOURS == 168
    assert counts[0].start == datetime(2026, 11, 29, 15, tzinfo=UTC) == window_start(NOW)
    assert counts[-1].start == hour
    assert [b.start for b in counts] == [counts[0].start + timedelta(hours=i) for i in range(HOURS)]
    assert by_hour(counts) == {
        hour: (2, 0, 0),
        hour - timedelta(hours=1): (1, 1, 0),
        hour - timedelta(hours=2): (0, 0, 1),
    }


def check_window(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name=f"acme-{uuid.uuid4().hex[:6]}")
    connection_id = add_connection(engine, user_id)
    other = add_connection(engine, user_id, mailbox="other@acme.example")
    first = window_start(NOW)
    tick = timedelta(microseconds=1)
    record_at(monkeypatch, engine, first, connection_id, "first-hour", "failed")
    record_at(monkeypatch, engine, first - tick, connection_id, "eight-days-ago", "processed")
    record_at(monkeypatch, engine, first - timedelta(days=30), connection_id, "last-month", "processed")
    record_at(monkeypatch, engine, NOW + timedelta(hours=1), connection_id, "next-hour", "processed")
    record_at(monkeypatch, engine, NOW, other, "another-connection", "processed")
    record_at(monkeypatch, engine, NOW, connection_id, "send/e1/r1", "processed", direction="outgoing")

    counts = counts_of(engine, connection_id)
    assert by_hour(counts) == {first: (0, 0, 1)}
    # A day later the first hour has left the window.
    assert by_hour(counts_of(engine, connection_id, NOW + timedelta(days=1))) == {
        NOW.replace(minute=0) + timedelta(hours=1): (1, 0, 0)
    }


def test_hour_edges(monkeypatch, engine):
    check_hour_edges(monkeypatch, engine)


def test_the_window_is_the_last_7_days_of_incoming_email(monkeypatch, engine):
    check_window(monkeypatch, engine)


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[Engine]:
    if not available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    with running_postgres() as url:
        # A session time zone that is not UTC and not whole hours: the buckets must still be UTC hours.
        engine = create_db_engine(url + "?options=-c%20timezone%3DAsia/Kolkata")
        upgrade_to_head(engine)
        yield engine
        engine.dispose()


def test_hour_edges_on_postgres(monkeypatch, postgres_engine):
    check_hour_edges(monkeypatch, postgres_engine)


def test_the_window_on_postgres(monkeypatch, postgres_engine):
    check_window(monkeypatch, postgres_engine)


def _hours(values: dict[int, tuple[int, int, int]]) -> list[HourCounts]:
    """168 hours ending with NOW's, `values` by hour index."""
    first = window_start(NOW)
    return [HourCounts(first + timedelta(hours=i), *values.get(i, (0, 0, 0))) for i in range(HOURS)]


def test_the_svg_is_xml_with_three_series_a_legend_and_day_labels():
    svg = ET.fromstring(str(render_chart(_hours({0: (1, 2, 3), 167: (4, 0, 1)}), NOW)))

    assert svg.tag == f"{SVG}svg"
    assert svg.get("class") == "chart"
    assert svg.get("viewBox", "").startswith("0 0 ")
    assert svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    assert title is not None and title.text and "5 processed, 2 skipped, 4 failed" in title.text
    assert svg.get("aria-label") == title.text

    groups = {g.get("class"): g for g in svg.iter(f"{SVG}g")}
    for series in SERIES:
        assert f"series {series}" in groups and f"legend {series}" in groups
    bars = {s: groups[f"series {s}"].findall(f"{SVG}rect") for s in SERIES}
    assert [len(bars[s]) for s in SERIES] == [2, 1, 2]
    assert [r.findtext(f"{SVG}title") for r in bars["skipped"]] == ["Sun 29 Nov 15:00 UTC: 2 skipped"]
    legend = [groups[f"legend {s}"].findtext(f"{SVG}text") for s in SERIES]
    assert legend == ["processed (5)", "skipped (2)", "failed (4)"]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    # Midnights of Nov 30 to Dec 6 are in the window (it starts Nov 29, 15:00).
    for day in ("Mon 30", "Tue 1", "Wed 2", "Thu 3", "Fri 4", "Sat 5", "Sun 6"):
        assert day in texts
    assert "UTC" in texts


def test_bars_stack_and_scale_to_the_busiest_hour():
    svg = ET.fromstring(str(render_chart(_hours({10: (3, 1, 0), 20: (1, 0, 0)}), NOW)))
    groups = {g.get("class"): g for g in svg.iter(f"{SVG}g")}
    processed = groups["series processed"].findall(f"{SVG}rect")
    skipped = groups["series skipped"].findall(f"{SVG}rect")
    tallest = float(processed[0].get("height", "0")) + float(skipped[0].get("height", "0"))
    # The busiest hour (4) reaches the axis' top (4): the whole plot's height, skipped on processed.
    assert float(skipped[0].get("y", "0")) + float(skipped[0].get("height", "0")) == pytest.approx(
        float(processed[0].get("y", "0"))
    )
    assert float(processed[1].get("height", "0")) == pytest.approx(tallest / 4)


def test_an_empty_week_draws_axes_and_zero_totals():
    svg = ET.fromstring(str(render_chart(_hours({}), NOW)))
    groups = {g.get("class"): g for g in svg.iter(f"{SVG}g")}
    assert all(not groups[f"series {s}"].findall(f"{SVG}rect") for s in SERIES)
    assert groups["legend failed"].findtext(f"{SVG}text") == "failed (0)"


def test_every_text_is_escaped():
    title = '<script>alert("x")</script> & a\'b'
    markup = str(render_chart(_hours({5: (1, 0, 0)}), NOW, title=title))
    assert "<script>" not in markup and 'alert("x")' not in markup
    svg = ET.fromstring(markup)
    assert (svg.findtext(f"{SVG}title") or "").startswith(title + ", until Sun 06 Dec 14:30 UTC")
    assert (svg.get("aria-label") or "").startswith(title)
