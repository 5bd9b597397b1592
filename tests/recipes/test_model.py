"""The recipe model and templates: what validates without a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recipes.model import EmailReceivedTrigger, Recipe
from recipes.templates import TemplateError, placeholders, render
from tests.recipes.factories import recipe


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("", []),
        ("{subject}", ["subject"]),
        ("{from.name} <{from.address}> {subject}", ["from.name", "from.address", "subject"]),
        ("{{subject}}", []),
        ("}}{{", []),
    ],
)
def test_placeholders(template, expected):
    assert placeholders(template) == expected


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{sender}", "unknown placeholder {sender}; known: {subject}, {from.address}"),
        ("{}", "unknown placeholder {}"),
        ("{subject", "unmatched '{'"),
        ("subject}", "unmatched '}'"),
        ("{{subject}", "unmatched '}'"),
    ],
)
def test_bad_templates(template, says):
    with pytest.raises(TemplateError) as err:
        placeholders(template)
    assert says in str(err.value)


def test_render_leaves_unknown_values_empty():
    assert render("{subject}|{to}", {"subject": "s"}) == "s|"


def test_recipe_round_trips_through_json_with_the_from_alias():
    r = recipe(senders=["*@a.example"], words=["help"], columns={"From": "{from.address}"})
    dumped = r.model_dump(by_alias=True)
    assert dumped["trigger"]["conditions"]["from"] == ["*@a.example"]
    assert Recipe.model_validate_json(r.model_dump_json(by_alias=True)) == r


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"senders": ["a@b"]}, "is not a sender pattern"),
        ({"senders": ["*.example"]}, "is not a sender pattern"),
        ({"senders": ["a@@b.example"]}, "is not a sender pattern"),
        ({"senders": ["a b@c.example"]}, "is not a sender pattern"),
        ({"columns": {" ": "{subject}"}}, "a column title is empty"),
        ({"columns": {"A": "{nope}"}}, "column 'A': unknown placeholder {nope}"),
        ({"item_name": ""}, "at least 1 character"),
    ],
)
def test_invalid_recipes(change, says):
    with pytest.raises(ValidationError) as err:
        recipe(**change)
    assert says in str(err.value)


def test_sender_entries_are_normalised():
    trigger = recipe(senders=[" Jane@Customer.EXAMPLE ", "*@Acme.Example"]).trigger
    assert isinstance(trigger, EmailReceivedTrigger)
    assert trigger.conditions.from_ == [
        "jane@customer.example",
        "*@acme.example",
    ]


def test_attachments_are_refused_for_a_monday_destination():
    with pytest.raises(ValidationError) as err:
        recipe(
            action={
                "type": "create_item",
                "destination": "monday",
                "board_id": "123",
                "group": "New",
                "attachments": True,
            }
        )
    assert "attachments can only go onto built-in boards" in str(err.value)
