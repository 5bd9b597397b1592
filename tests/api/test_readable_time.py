"""Times on the pages read as words ("3 minutes ago", "in 2 days") with the exact UTC time on hover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.readable_time import relative, when

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=-10), "just now"),
        (timedelta(minutes=-3), "3 minutes ago"),
        (timedelta(minutes=-1), "1 minute ago"),
        (timedelta(hours=-5), "5 hours ago"),
        (timedelta(days=2), "in 2 days"),
        (timedelta(hours=23, minutes=50), "in 24 hours"),
        (timedelta(days=-400), "1 year ago"),
    ],
)
def test_relative_words(delta: timedelta, words: str) -> None:
    assert relative(NOW + delta, NOW) == words


def test_a_naive_time_from_sqlite_is_read_as_utc() -> None:
    assert relative(datetime(2026, 12, 6, 11, 57), NOW) == "3 minutes ago"


def test_the_element_carries_the_exact_time_and_escapes_the_empty_text() -> None:
    html = str(when(NOW - timedelta(minutes=3), now=NOW))
    assert html == (
        '<time datetime="2026-12-06T11:57:00+00:00" title="2026-12-06 11:57:00 UTC">3 minutes ago</time>'
    )
    assert str(when(None, empty="<none>")) == '<span class="muted">&lt;none&gt;</span>'
