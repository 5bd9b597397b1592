"""matches(): every condition must hold, empty lists mean any, case-insensitive."""

from __future__ import annotations

import pytest

from recipes.match import matches
from tests.recipes.factories import email, recipe


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
