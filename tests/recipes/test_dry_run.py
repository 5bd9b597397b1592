"""evaluate(): what a dry run says about one email, the board's answers passed in."""

from __future__ import annotations

from recipes.dry_run import evaluate
from tests.recipes.factories import BOARD_ID, email, recipe


def test_a_new_item():
    result = evaluate(recipe(columns={"From": "{from.address}"}, reply_update="{preview}"), email())
    assert result.matched and result.reason is None
    assert result.would_create == {
        "kind": "item",
        "description": "item 'Need help' in group 'New'",
        "name": "Need help",
        "group": "New",
        "columns": {"From": "a@customer.example"},
        "attachments": False,
        "missing": ["preview"],
    }


def test_a_reply_in_a_conversation_with_an_item():
    result = evaluate(recipe(reply_update="Again: {subject}"), email(), thread_item="Order 42")
    assert result.would_create == {
        "kind": "update",
        "description": "update on the item of this conversation",
        "item": "Order 42",
        "body": "Again: Need help",
        "missing": [],
    }
    # Replies that make items ignore the thread.
    result = evaluate(recipe(replies="item"), email(), thread_item="Order 42")
    assert result.would_create is not None and result.would_create["kind"] == "item"


def test_an_update_found_by_a_column_or_not():
    r = recipe(
        action={
            "type": "create_update",
            "board_id": BOARD_ID,
            "find": {"column": "Email", "value": "{from.address}"},
            "body": "{subject}",
        }
    )
    found = evaluate(r, email(), found_item="Order 42")
    assert found.would_create is not None
    assert found.would_create["description"] == "update on item Order 42"
    assert found.would_create["body"] == "Need help"
    lost = evaluate(r, email())
    assert lost.matched and lost.would_create is None
    assert lost.reason == "no item has Email = 'a@customer.example': nothing would be written"


def test_misses_and_skips():
    miss = evaluate(recipe(words=["invoice"]), email(subject="secret words"))
    assert not miss.matched and miss.reason == "condition subject_contains not met"
    assert miss.subject == "secret words" and miss.would_create is None
    auto = evaluate(recipe(), email(headers={"auto-submitted": "auto-replied"}))
    assert not auto.matched and auto.reason == "automatic reply"
