"""graph_fields_for() and needs_body_text(): exactly the $select the recipes need."""

from __future__ import annotations

import pytest

from recipes.fields import graph_fields_for, needs_body_text
from tests.recipes.factories import recipe


@pytest.mark.parametrize(
    ("recipes", "expected"),
    [
        # Always the headers and the subject: the loop and automatic-reply checks read both.
        ([], ["internetMessageHeaders", "subject"]),
        ([recipe(item_name="fixed")], ["internetMessageHeaders", "subject"]),
        ([recipe()], ["internetMessageHeaders", "subject"]),
        ([recipe(item_name="x", senders=["*@a.example"])], ["from", "internetMessageHeaders", "subject"]),
        ([recipe(item_name="x", words=["help"])], ["internetMessageHeaders", "subject"]),
        (
            # The recipe.
            [
                recipe(
                    senders=["*@customer.example"],
                    words=["help"],
                    columns={"From": "{from.address}", "Received": "{received_at}", "Preview": "{preview}"},
                )
            ],
            ["bodyPreview", "from", "internetMessageHeaders", "receivedDateTime", "subject"],
        ),
        (
            [
                recipe(item_name="{from.name}", columns={"A": "{to}"}),
                recipe(columns={"B": "{conversation_id}"}),
            ],
            ["conversationId", "from", "internetMessageHeaders", "subject", "toRecipients"],
        ),
        ([recipe(item_name="x", columns={"Body": "{body}"})], ["body", "internetMessageHeaders", "subject"]),
        ([recipe(item_name="{{subject}}")], ["internetMessageHeaders", "subject"]),
    ],
)
def test_graph_fields_for(recipes, expected):
    assert graph_fields_for(recipes) == expected


def test_needs_body_text():
    assert not needs_body_text([])
    assert not needs_body_text([recipe(columns={"P": "{preview}"})])
    assert needs_body_text([recipe(), recipe(columns={"Body": "Text: {body}"})])
    assert needs_body_text([recipe(item_name="{body}")])
