"""matches(): every condition must hold, empty lists mean any, case-insensitive."""

from __future__ import annotations

import pytest

from recipes.match import first_failed_condition, matches, sender_matches
from tests.recipes.factories import BOARD_ID, email, recipe


@pytest.mark.parametrize(
    ("senders", "words", "from_address", "subject", "expected"),
    [
        # No conditions: every email.
        ([], [], "x@y.example", "anything", True),
        ([], [], "", "", True),
        # Domain globs and addresses, case-insensitive both ways.
        (["*@customer.example"], [], "Jane@Customer.Example", "", True),
        (["*@customer.example"], [], "jane@sub.customer.example", "", False),
        (["*@customer.example"], [], "jane@evilcustomer.example", "", False),
        (["*@customer.example"], [], "jane@customer.example.evil", "", False),
        (["Boss@ACME.example"], [], "boss@acme.example", "", True),
        (["boss@acme.example"], [], "boss2@acme.example", "", False),
        (["boss@acme.example", "*@customer.example"], [], "x@customer.example", "", True),
        # A sender condition never matches a message without a sender.
        (["*@customer.example"], [], "", "", False),
        # Subject words: whole words, any of them, case-insensitive; phrases across whitespace.
        ([], ["help"], "", "HELP needed!", True),
        ([], ["help"], "", "Can you help?", True),
        ([], ["help"], "", "helpful tips", False),
        ([], ["help"], "", "self-help", True),
        ([], ["invoice", "help"], "", "your invoice", True),
        ([], ["order status"], "", "Order   Status update", True),
        ([], ["order status"], "", "order, status", False),
        ([], ["c++"], "", "a c++ question", True),
        ([], ["help"], "", "", False),
        # Both conditions must hold.
        (["*@customer.example"], ["help"], "a@customer.example", "Need help", True),
        (["*@customer.example"], ["help"], "a@customer.example", "Thanks", False),
        (["*@customer.example"], ["help"], "a@other.example", "Need help", False),
    ],
)
def test_matches(senders, words, from_address, subject, expected):
    assert (
        matches(recipe(senders=senders, words=words), email(from_address=from_address, subject=subject))
        is expected
    )


@pytest.mark.parametrize(
    ("patterns", "address", "expected"),
    [
        # "*" is any run of characters (also none), the whole address must match, case-insensitive.
        (["*@*.customer.example"], "a@eu.customer.example", True),
        (["*@*.customer.example"], "a@customer.example", False),
        (["billing-*@acme.example"], "Billing-EU@Acme.Example", True),
        (["billing-*@acme.example"], "billing-@acme.example", True),
        (["billing-*@acme.example"], "xbilling-eu@acme.example", False),
        (["*bot@acme.example"], "robot@acme.example", True),
        # Everything but "*" is literal: "." and "?" are not wildcards.
        (["a.b@acme.example"], "aXb@acme.example", False),
        (["a?b@acme.example"], "axb@acme.example", False),
        (["a?b@acme.example"], "a?b@acme.example", True),
        (["*@acme.example"], "  a@acme.example ", True),
    ],
)
def test_sender_patterns(patterns, address, expected):
    assert sender_matches(patterns, address) is expected


FULL = dict(
    to=["support@acme.example", "sales@acme.example"],
    to_names=["Acme Support"],
    cc=["boss@acme.example"],
    cc_names=["The Boss"],
    body_text="Hello, please refund my order.",
    has_attachments=True,
    importance="high",
)


@pytest.mark.parametrize(
    ("conditions", "facts", "failed"),
    [
        ({}, {}, None),
        # Recipients: a substring of any address or display name, case-insensitive; To and Cc apart.
        ({"to_contains": ["SUPPORT@"]}, FULL, None),
        ({"to_contains": ["acme support"]}, FULL, None),
        ({"to_contains": ["nobody", "sales"]}, FULL, None),
        ({"to_contains": ["boss"]}, FULL, "to_contains"),
        ({"to_contains": ["support"]}, {}, "to_contains"),
        ({"cc_contains": ["the boss"]}, FULL, None),
        ({"cc_contains": ["boss@"]}, FULL, None),
        ({"cc_contains": ["support"]}, FULL, "cc_contains"),
        # Body: whole words or phrases, like the subject.
        ({"body_contains": ["Refund"]}, FULL, None),
        ({"body_contains": ["refund my order"]}, FULL, None),
        ({"body_contains": ["fund"]}, FULL, "body_contains"),
        ({"body_contains": ["refund"]}, {}, "body_contains"),
        # Attachments: true and false both are conditions; unknown fails either.
        ({"has_attachments": True}, FULL, None),
        ({"has_attachments": False}, FULL, "has_attachments"),
        ({"has_attachments": False}, {"has_attachments": False}, None),
        ({"has_attachments": True}, {}, "has_attachments"),
        # Importance: any of the list.
        ({"importance": ["high"]}, FULL, None),
        ({"importance": ["low", "high"]}, {"importance": "High"}, None),
        ({"importance": ["high"]}, {"importance": "normal"}, "importance"),
        ({"importance": ["normal"]}, {}, "importance"),
        # All given conditions must hold; the first that fails is named, in the model's order.
        ({"to_contains": ["support"], "importance": ["high"]}, FULL, None),
        ({"from": ["*@other.example"], "importance": ["low"]}, FULL, "from"),
        ({"to_contains": ["support"], "importance": ["low"]}, FULL, "importance"),
        ({"subject_contains": ["invoice"], "body_contains": ["nothing"]}, FULL, "subject_contains"),
    ],
)
def test_every_condition(conditions, facts, failed):
    r = recipe(conditions=conditions)
    assert first_failed_condition(r, email(**facts)) == failed
    assert matches(r, email(**facts)) is (failed is None)


def test_the_failed_condition_never_carries_the_emails_value():
    secret = "very-private-subject-words"
    r = recipe(words=["invoice"], conditions={"body_contains": ["x"]})
    failed = first_failed_condition(r, email(subject=secret, body_text=secret))
    assert failed == "subject_contains" and secret not in failed


def test_an_outgoing_recipe_never_matches_an_email():
    r = recipe(
        trigger={"type": "item_created", "board_id": BOARD_ID},
        action={"type": "send_email", "to": "a@b.example", "subject": "{name}"},
    )
    assert first_failed_condition(r, email()) == "trigger"
