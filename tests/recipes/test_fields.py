"""graph_fields_for() and needs_body_text(): exactly the $select the recipes need, the body only when read."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from recipes.fields import graph_fields_for, needs_body_text
from recipes.model import Recipe
from tests.recipes.factories import BOARD_ID, recipe

BASE = ["internetMessageHeaders", "subject"]
THREADING = ["conversationId", "internetMessageId"]
# A recipe that threads no replies: only its own templates count.
ITEMS: dict[str, Any] = {"replies": "item"}


def _sorted(*fields: str) -> list[str]:
    return sorted({*BASE, *fields})


def update_recipe(value: str = "{from.address}", body: str = "{preview}") -> Recipe:
    return recipe(
        action={
            "type": "create_update",
            "board_id": BOARD_ID,
            "find": {"column": "Email", "value": value},
            "body": body,
        }
    )


def outgoing_recipe() -> Recipe:
    return recipe(
        trigger={
            "type": "column_changed",
            "board_id": str(uuid.UUID(int=2)),
            "column": "Status",
            "to": "Done",
        },
        action={"type": "send_email", "to": "{column:Email}", "subject": "{name}", "body": "{column:Notes}"},
    )


@pytest.mark.parametrize(
    ("recipes", "expected"),
    [
        # Always the headers and the subject: the loop and automatic-reply checks read both.
        ([], BASE),
        ([recipe(item_name="fixed", **ITEMS)], BASE),
        ([recipe(**ITEMS)], BASE),
        ([recipe(item_name="x", senders=["*@a.example"], **ITEMS)], _sorted("from")),
        ([recipe(item_name="x", words=["help"], **ITEMS)], BASE),
        # Every condition reads its own field.
        ([recipe(item_name="x", conditions={"to_contains": ["sup"]}, **ITEMS)], _sorted("toRecipients")),
        ([recipe(item_name="x", conditions={"cc_contains": ["boss"]}, **ITEMS)], _sorted("ccRecipients")),
        ([recipe(item_name="x", conditions={"body_contains": ["refund"]}, **ITEMS)], _sorted("body")),
        ([recipe(item_name="x", conditions={"has_attachments": False}, **ITEMS)], _sorted("hasAttachments")),
        ([recipe(item_name="x", conditions={"importance": ["high"]}, **ITEMS)], _sorted("importance")),
        (
            # The recipe, replies threaded by default: the reply's update reads the body.
            [
                recipe(
                    senders=["*@customer.example"],
                    words=["help"],
                    columns={"From": "{from.address}", "Received": "{received_at}", "Preview": "{preview}"},
                )
            ],
            _sorted("body", "bodyPreview", "from", "receivedDateTime", *THREADING),
        ),
        # Threaded replies whose update does not read the body: no body.
        ([recipe(reply_update="Reply from {from.name}")], _sorted("from", *THREADING)),
        (
            [
                recipe(item_name="{from.name}", columns={"A": "{to}"}, **ITEMS),
                recipe(columns={"B": "{conversation_id}", "C": "{cc} {importance} {link}"}, **ITEMS),
            ],
            _sorted("conversationId", "from", "toRecipients", "ccRecipients", "importance", "webLink"),
        ),
        ([recipe(item_name="x", columns={"Body": "{body}"}, **ITEMS)], _sorted("body")),
        ([recipe(item_name="{{subject}}", **ITEMS)], BASE),
        # The reply update is never rendered when replies make items.
        ([recipe(reply_update="{body}", **ITEMS)], BASE),
        ([recipe(attachments=True, **ITEMS)], _sorted("hasAttachments")),
        ([update_recipe()], _sorted("from", "bodyPreview")),
        ([update_recipe(value="{conversation_id}", body="{body}")], _sorted("conversationId", "body")),
        # Outgoing recipes read no email.
        ([outgoing_recipe()], BASE),
    ],
)
def test_graph_fields_for(recipes, expected):
    assert graph_fields_for(recipes) == expected


def test_needs_body_text():
    assert not needs_body_text([])
    assert not needs_body_text([recipe(columns={"P": "{preview}"}, **ITEMS)])
    assert not needs_body_text([outgoing_recipe()])
    assert not needs_body_text([recipe(reply_update="{preview}")])
    assert needs_body_text([recipe(**ITEMS), recipe(columns={"Body": "Text: {body}"}, **ITEMS)])
    assert needs_body_text([recipe(item_name="{body}", **ITEMS)])
    assert needs_body_text([recipe(conditions={"body_contains": ["refund"]}, **ITEMS)])
    assert needs_body_text([recipe()])  # the default reply update is the reply's body
    assert needs_body_text([update_recipe(body="{body}")])
