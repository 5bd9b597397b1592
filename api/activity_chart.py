"""The last 7 days of a connection's incoming email, per hour and outcome, as a server-rendered SVG chart.

`hourly_counts` asks the database for the counts (one GROUP BY over the hour and the outcome; the hour
written as text the same way on SQLite and PostgreSQL); `render_chart` draws them as stacked bars with
day labels, a legend and a title, so the page needs no script. Outgoing emails (sent by board events) are
left out: "processed" means something else for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from api.readable_time import as_utc
from db.activity_log import MessageOutcome

HOURS = 7 * 24
SERIES = ("processed", "skipped", "failed")
# The hour key both databases write: "2026-12-06 14".
_HOUR_KEY = "%Y-%m-%d %H"


@dataclass(frozen=True)
class HourCounts:
    """The incoming emails whose outcome was recorded in the hour starting at `start` (UTC)."""

    start: datetime
    processed: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.processed + self.skipped + self.failed


def window_start(now: datetime) -> datetime:
    """The first of the 168 hours shown: the chart ends with the hour that contains `now`."""
    return as_utc(now).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)


def _hour_of(session: Session, column: InstrumentedAttribute[datetime]) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        # timezone('UTC', timestamptz): the UTC wall time, whatever the session's time zone.
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    # SQLite keeps the UTC time as text ("2026-12-06 14:03:07.123456", db/types.py).
    return func.strftime(_HOUR_KEY, column)


def hourly_counts(session: Session, connection_id: uuid.UUID, now: datetime) -> list[HourCounts]:
    """One entry per hour of the last 7 days, oldest first (168, the last one the hour of `now`)."""
    start = window_start(now)
    end = start + timedelta(hours=HOURS)
    hour = _hour_of(session, MessageOutcome.recorded_at).label("hour")
    rows = session.execute(
        select(hour, MessageOutcome.outcome, func.count())
        .where(
            MessageOutcome.connection_id == connection_id,
            MessageOutcome.direction == "incoming",
            MessageOutcome.recorded_at >= start,
            MessageOutcome.recorded_at < end,
        )
        .group_by(hour, MessageOutcome.outcome)
    ).all()
    counts: dict[datetime, dict[str, int]] = {}
    for key, outcome, count in rows:
        at = datetime.strptime(key, _HOUR_KEY).replace(tzinfo=UTC)
        counts.setdefault(at, {})[outcome] = count
    hours = (start + timedelta(hours=i) for i in range(HOURS))
    return [HourCounts(at, **{s: n for s, n in counts.get(at, {}).items() if s in SERIES}) for at in hours]


def last_week_chart(session: Session, connection_id: uuid.UUID, mailbox: str) -> Markup:
    """The chart of the connection's last 7 days as of now, for the connection and activity pages."""
    now = datetime.now(UTC)
    title = f"Emails to {mailbox} per hour, last 7 days"
    return render_chart(hourly_counts(session, connection_id, now), now, title=title)


# Drawing: user units of the viewBox (the svg scales to its container's width).
_WIDTH, _HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 8, 40, 28
_PLOT_W = _WIDTH - _LEFT - _RIGHT
_PLOT_H = _HEIGHT - _TOP - _BOTTOM
_SLOT = _PLOT_W / HOURS


def _n(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _nice_top(peak: int) -> int:
    """The y axis' top: the peak rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= peak:
                return step * factor
        step *= 10


def render_chart(
    counts: list[HourCounts], now: datetime, title: str = "Emails per hour, last 7 days"
) -> Markup:
    """`counts` (oldest first, as `hourly_counts` gives them) as stacked bars: processed, skipped and
    failed per hour, days marked below, a legend with each series' total above. Every text is escaped:
    the markup is fixed, and Markup.format escapes what goes into it."""
    totals = {s: sum(getattr(c, s) for c in counts) for s in SERIES}
    until = as_utc(now).strftime("%a %d %b %H:%M UTC")
    summary = f"{title}, until {until}: " + ", ".join(f"{totals[s]} {s}" for s in SERIES)
    top = _nice_top(max((c.total for c in counts), default=0))
    scale = _PLOT_H / top
    base = _TOP + _PLOT_H
    parts: list[Markup] = [
        Markup(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}"'
            ' xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        ).format(_WIDTH, _HEIGHT, summary, summary)
    ]
    # Legend: a swatch and the series' name and total.
    for i, series in enumerate(SERIES):
        x = _LEFT + i * 210
        parts.append(
            Markup(
                '<g class="legend {}"><rect class="swatch" x="{}" y="12" width="12" height="12"/>'
                '<text x="{}" y="23">{} ({})</text></g>'
            ).format(series, x, x + 18, series, totals[series])
        )
    # Axes: a gridline at 0, half the top value and the top, the value written on the left.
    parts.append(Markup('<g class="axis">'))
    for mark in sorted({0, top // 2, top}):
        y = base - mark * scale
        parts.append(
            Markup(
                '<line x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="value" x="{}" y="{}" text-anchor="end">{}</text>'
            ).format(_LEFT, _WIDTH - _RIGHT, _n(y), _n(y), _LEFT - 6, _n(y + 4), mark)
        )
    # A tick and the day's name at each midnight (UTC) in the window.
    for i, hour in enumerate(counts):
        if hour.start.hour == 0:
            day_x = _LEFT + i * _SLOT
            label = hour.start.strftime("%a %d").replace(" 0", " ")
            parts.append(
                Markup(
                    '<line class="day" x1="{}" x2="{}" y1="{}" y2="{}"/><text x="{}" y="{}">{}</text>'
                ).format(_n(day_x), _n(day_x), base, base + 5, _n(day_x + 2), base + 18, label)
            )
    parts.append(
        Markup('<text class="zone" x="{}" y="{}" text-anchor="end">UTC</text></g>').format(
            _WIDTH - _RIGHT, 23
        )
    )
    # The bars: one group per series, stacked processed, skipped, failed from the bottom.
    stacked = [0] * len(counts)
    for series in SERIES:
        parts.append(Markup('<g class="series {}">').format(series))
        for i, hour in enumerate(counts):
            value: int = getattr(hour, series)
            if not value:
                continue
            y = base - (stacked[i] + value) * scale
            stacked[i] += value
            tip = f"{hour.start.strftime('%a %d %b %H:00')} UTC: {value} {series}"
            parts.append(
                Markup('<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>').format(
                    _n(_LEFT + i * _SLOT), _n(y), _n(_SLOT), _n(value * scale), tip
                )
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
