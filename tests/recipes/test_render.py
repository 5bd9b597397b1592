"""render_item(): templates filled from the email, the name one line with a fallback, lengths bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from recipes.model import Recipe
from recipes.render import (
    NAME_MAX,
    VALUE_MAX,
    render_create_item,
    render_email,
    render_item,
    render_update,
    split_addresses,
    truncate,
)
from tests.recipes.factories import BOARD_ID, email, recipe

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


def test_render_create_item_reports_missing_fields_and_the_reply_update():
    r = recipe(
        item_name="{subject} {cc}",
        columns={"Link": "{link}", "Imp": "{importance}"},
        reply_update="Reply from {from.name}: {body}",
    )
    rendered = render_create_item(r, FULL)
    assert rendered.draft == render_item(r, FULL)
    assert rendered.reply_update == "Reply from Jane Doe: Hello,\nmy order is late."
    assert rendered.missing == ["cc", "link", "importance"]
    missing: list[str] = []
    render_item(r, FULL, missing)
    assert missing == ["cc", "link", "importance"]
    full = email(cc=["b@x.example"], web_link="https://owa.example/x", importance="high")
    assert render_create_item(r, full).draft.columns == {"Link": "https://owa.example/x", "Imp": "high"}


def test_render_update():
    r = recipe(
        action={
            "type": "create_update",
            "board_id": BOARD_ID,
            "find": {"column": "Email", "value": " {from.address}\n"},
            "body": "{from.name} wrote: {preview} {link}",
        }
    )
    rendered = render_update(r, FULL)
    assert rendered.find_column == "Email" and rendered.find_value == "jane@customer.example"
    assert rendered.body == "Jane Doe wrote: Hello, my order... "
    assert rendered.missing == ["link"]
    with pytest.raises(TypeError):
        render_update(recipe(), FULL)


def _send(to: str, subject: str = "{name} is {column:Status}", body: str = "") -> Recipe:
    return recipe(
        trigger={"type": "item_created", "board_id": BOARD_ID},
        action={"type": "send_email", "to": to, "subject": subject, "body": body},
    )


ITEM = {
    "name": "Order 42",
    "board": "Billing",
    "group": "New",
    "item.id": "i-1",
    "old_value": "Working",
    "new_value": "Done",
    "column:Status": "Done",
    "column:Email": "jane@customer.example",
}


@pytest.mark.parametrize(
    ("to", "values", "expected_to", "invalid", "missing"),
    [
        ("{column:Email}", ITEM, ["jane@customer.example"], [], []),
        ("ops@acme.example", ITEM, ["ops@acme.example"], [], []),
        # Split on "," and ";", trimmed, empties skipped, duplicates (ignoring case) once.
        (
            "{column:Email}; ops@acme.example ,, Jane@Customer.Example;",
            ITEM,
            ["jane@customer.example", "ops@acme.example"],
            [],
            [],
        ),
        # What is not a plain address is dropped and reported.
        (
            "{column:Email}, not an address, Jane <j@x.example>, a@b",
            ITEM,
            ["jane@customer.example"],
            ["not an address", "Jane <j@x.example>", "a@b"],
            [],
        ),
        ("{column:Email}", {**ITEM, "column:Email": ""}, [], [], ["column:Email"]),
        ("{column:Owner}", ITEM, [], [], ["column:Owner"]),
    ],
)
def test_render_email_recipients(to, values, expected_to, invalid, missing):
    rendered = render_email(_send(to), values)
    assert rendered.to == expected_to
    assert rendered.invalid_recipients == invalid
    assert rendered.missing == missing


def test_render_email_subject_and_body():
    r = _send(
        "{column:Email}",
        subject="{name}\nis {new_value} (was {old_value}) {column:Nope}",
        body="Item {item.id} on {board}/{group}: {{ok}} {column:Status}",
    )
    rendered = render_email(r, ITEM)
    assert rendered.subject == "Order 42 is Done (was Working)"
    assert rendered.body == "Item i-1 on Billing/New: {ok} Done"
    assert rendered.missing == ["column:Nope"]
    assert render_email(_send("a@b.example", subject="{old_value}"), {}).subject == "(no subject)"
    with pytest.raises(TypeError):
        render_email(recipe(), ITEM)


def test_split_addresses():
    assert split_addresses("") == ([], [])
    assert split_addresses(" a@b.example ;c@d.example") == (["a@b.example", "c@d.example"], [])
    assert split_addresses("x" * 400 + "@b.example")[0] == []
