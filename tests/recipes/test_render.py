"""render_item(): templates filled from the email, the name one line with a fallback, lengths bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from recipes.render import NAME_MAX, VALUE_MAX, render_item, truncate
from tests.recipes.factories import email, recipe

FULL = email(
    subject="Order 42: help",
    from_address="jane@customer.example",
    from_name="Jane Doe",
    received_at=datetime(2026, 11, 30, 5, 6, 7, tzinfo=timezone(timedelta(hours=2))),
    preview="Hello, my order...",
    body_text="Hello,\nmy order is late.",
    to=["support@acme.example", "sales@acme.example"],
    conversation_id="conv-1",
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{subject}", "Order 42: help"),
        ("{from.address}", "jane@customer.example"),
        ("{from.name} <{from.address}>", "Jane Doe <jane@customer.example>"),
        ("{received_at}", "2026-11-30T03:06:07Z"),
        ("{preview}", "Hello, my order..."),
        ("{body}", "Hello,\nmy order is late."),
        ("{to}", "support@acme.example, sales@acme.example"),
        ("{conversation_id}", "conv-1"),
        ("{{literal}} {subject}", "{literal} Order 42: help"),
        ("no placeholders", "no placeholders"),
        ("{ subject }", "Order 42: help"),
    ],
)
def test_column_templates(template, expected):
    draft = render_item(recipe(columns={"C": template}), FULL)
    assert draft.columns == {"C": expected}
    assert draft.group == "New"


@pytest.mark.parametrize(
    ("facts", "item_name", "expected"),
    [
        ({}, "{subject}", "Need help"),
        ({"subject": ""}, "{subject}", "(no subject)"),
        ({"subject": "   "}, "{subject}", "(no subject)"),
        ({"subject": "line one\r\n\tline two"}, "{subject}", "line one line two"),
        ({"from_name": ""}, "[{from.name}] {subject}", "[a@customer.example] Need help"),
        ({"received_at": None}, "{subject} {received_at}", "Need help"),
        ({"received_at": datetime(2026, 1, 2, 3, 4, 5)}, "{received_at}", "2026-01-02T03:04:05Z"),
        ({"received_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}, "{received_at}", "2026-01-02T03:04:05Z"),
    ],
)
def test_item_name(facts, item_name, expected):
    assert render_item(recipe(item_name=item_name), email(**facts)).name == expected


def test_lengths_are_bounded():
    long = email(subject="word " * 200, body_text="x" * (VALUE_MAX * 2))
    draft = render_item(recipe(columns={"Body": "{body}"}), long)
    assert len(draft.name) <= NAME_MAX and draft.name.endswith("…")
    assert not draft.name[:-1].endswith(" ")
    assert len(draft.columns["Body"]) == VALUE_MAX and draft.columns["Body"].endswith("…")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("abcdefghijkl", 10, "abcdefghi…"),
        ("one two three four five", 20, "one two three four…"),
    ],
)
def test_truncate(text, limit, expected):
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def test_rendering_is_deterministic():
    r = recipe(item_name="{from.name}: {subject}", columns={"A": "{to}", "B": "{received_at}"})
    assert render_item(r, FULL) == render_item(r, FULL)
