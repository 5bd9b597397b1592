"""Times in the viewer's words for the pages: "3 minutes ago", "in 2 days", with the exact time on hover.

The server renders the pages, so the relative words are as of the render; the exact time (UTC, to the
second) is in the element's title and its machine-readable datetime attribute.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def relative(moment: datetime, now: datetime) -> str:
    """`moment` in words relative to `now`: "just now", "5 minutes ago", "in 2 days"."""
    seconds = (as_utc(moment) - as_utc(now)).total_seconds()
    span = abs(seconds)
    if span < 45:
        return "just now"
    for unit, size in _UNITS:
        if span >= size:
            count = round(span / size)
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    return "in 1 minute" if seconds > 0 else "1 minute ago"


def exact(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; the service stores UTC everywhere.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(moment: datetime | None, empty: str = "never", now: datetime | None = None) -> Markup:
    """A <time> element for a page: relative words, exact UTC time on hover; `empty` for no time."""
    if moment is None:
        return Markup('<span class="muted">{}</span>').format(escape(empty))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        as_utc(moment).isoformat(), exact(moment), relative(moment, now or datetime.now(UTC))
    )
