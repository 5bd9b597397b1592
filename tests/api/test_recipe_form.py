"""The recipe pages' form (api/recipe_form.py), pure: a browser's fields to the JSON API's recipe body,
a stored recipe back to the form, and the API's validation problems to the field they concern."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from api import recipe_form
from api.recipe_form import KINDS, MONDAY, RecipeForm, errors_by_field, field_for, parse
from recipes.model import RecipeSpec
from recipes.schemas import RecipeCreate
from recipes.templates import EMAIL_PLACEHOLDERS, ITEM_PLACEHOLDERS

BOARD = str(uuid.uuid4())
CONNECTION = str(uuid.uuid4())

# One recipe of each kind, as an API client would send it (every option away from its default).
SPECS: dict[str, dict[str, Any]] = {
    "email_item": {
        "trigger": {
            "type": "email_received",
            "folder": "AAMkAGI2-custom-folder",
            "conditions": {
                "from": ["*@customer.example", "boss@acme.example"],
                "to_contains": ["billing"],
                "cc_contains": ["finance team"],
                "subject_contains": ["invoice", "bill due"],
                "body_contains": ["amount"],
                "has_attachments": True,
                "importance": ["normal", "high"],
            },
        },
        "action": {
            "type": "create_item",
            "board_id": BOARD,
            "group": "New",
            "item_name": "[{from.name}] {subject}",
            "columns": {"Email": "{from.address}", "Preview": "{preview} {{literal}}"},
            "replies": "item",
            "reply_update": "{from.name}: {body}",
            "attachments": True,
        },
    },
    "email_update": {
        "trigger": {"type": "email_received", "conditions": {"has_attachments": False}},
        "action": {
            "type": "create_update",
            "destination": "monday",
            "board_id": "1234567890",
            "find": {"column": "Email", "value": "{from.address}"},
            "body": "{from.name} wrote again: {preview}",
        },
    },
    "item_created": {
        "trigger": {"type": "item_created", "board_id": BOARD},
        "action": {"type": "send_email", "to": "team@acme.example", "subject": "New: {name}", "body": ""},
    },
    "column_changed": {
        "trigger": {
            "type": "column_changed",
            "source": "monday",
            "board_id": "987",
            "column": "Status",
            "to": "Done",
        },
        "action": {
            "type": "send_email",
            "to": "{column:Email}",
            "subject": "{name} is done",
            "body": "Your request {name} moved from {old_value} to {new_value}.",
        },
    },
}


def test_every_template_field_is_offered_with_words():
    offered = dict(recipe_form.email_fields())
    assert set(offered) == {"{" + name + "}" for name in EMAIL_PLACEHOLDERS}
    assert all(words and words not in EMAIL_PLACEHOLDERS.values() for words in offered.values())
    items = dict(recipe_form.item_fields(["Email", "Status"]))
    assert {"{" + name + "}" for name in ITEM_PLACEHOLDERS} <= set(items)
    assert "{column:Email}" in items and "{column:Status}" in items and "{column:<column title>}" in items


def test_the_fields_of_the_email_recipe_of_the_issue():
    form = parse(
        [
            ("csrf_token", "x"),
            ("kind", "email_item"),
            ("name", "Invoices"),
            ("connection_id", CONNECTION),
            ("enabled", "on"),
            ("folder", "inbox"),
            ("from", " *@customer.example,\r\nboss@acme.example \r\n\r\n"),
            ("subject_contains", "invoice\r\nbill due\r\n"),
            ("to_contains", ""),
            ("has_attachments", ""),
            ("board", BOARD),
            ("monday_board_id", ""),
            ("group", "New"),
            ("item_name", "{subject}"),
            ("column_title", "Email"),
            ("column_template", "{from.address}"),
            ("column_title", ""),
            ("column_template", ""),
            ("replies", "update"),
            ("reply_update", "{body}"),
        ]
    )
    assert form.problems() == []
    assert form.create_request() == {
        "connection_id": CONNECTION,
        "name": "Invoices",
        "enabled": True,
        "trigger": {
            "type": "email_received",
            "folder": "inbox",
            "conditions": {
                "from": ["*@customer.example", "boss@acme.example"],
                "subject_contains": ["invoice", "bill due"],
            },
        },
        "action": {
            "type": "create_item",
            "destination": "builtin",
            "board_id": BOARD,
            "group": "New",
            "item_name": "{subject}",
            "columns": {"Email": "{from.address}"},
            "replies": "update",
            "reply_update": "{body}",
            "attachments": False,
        },
    }


def test_an_unticked_box_is_off_and_an_empty_to_is_any_change():
    form = parse(
        [
            ("kind", "column_changed"),
            ("board", MONDAY),
            ("monday_board_id", " 987 "),
            ("column", "Status"),
            ("to_value", "  "),
            ("email_to", "{column:Email}"),
            ("email_subject", "s"),
        ]
    )
    assert form.enabled is False
    assert form.trigger() == {
        "type": "column_changed",
        "source": "monday",
        "board_id": "987",
        "column": "Status",
    }
    assert form.update_request()["action"] == {
        "type": "send_email",
        "to": "{column:Email}",
        "subject": "s",
        "body": "",
    }


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_stored_recipe_shown_in_the_form_is_the_same_recipe(kind):
    spec = RecipeSpec.model_validate(SPECS[kind])
    form = recipe_form.from_spec(spec, name="n", connection_id=CONNECTION, enabled=False)
    assert form.kind == kind and form.incoming == (kind in recipe_form.INCOMING_KINDS)
    again = RecipeSpec.model_validate({"trigger": form.trigger(), "action": form.action()})
    assert again == spec
    body = RecipeCreate.model_validate(form.create_request())
    assert body.spec() == spec and body.enabled is False and str(body.connection_id) == CONNECTION


def test_each_kind_pairs_its_trigger_and_action():
    for kind, (trigger, action, words) in KINDS.items():
        form = RecipeForm(kind=kind, board=BOARD)
        assert form.trigger()["type"] == trigger and form.action()["type"] == action and words


def test_column_rows_offer_empty_rows_up_to_the_limit():
    form = RecipeForm(columns=[("Email", "{from.address}")])
    assert form.column_rows() == [("Email", "{from.address}"), ("", ""), ("", ""), ("", "")]
    full = RecipeForm(columns=[(f"c{i}", "") for i in range(recipe_form.MAX_COLUMN_ROWS)])
    assert len(full.column_rows()) == recipe_form.MAX_COLUMN_ROWS


def test_what_only_the_form_gets_wrong():
    assert parse([("kind", "email_sent")]).problems()[0][0] == "kind"
    twice = parse(
        [("kind", "email_item"), ("column_title", "Email"), ("column_template", "{to}")] * 2
    ).problems()
    assert twice == [("columns", "each column can be filled once; given more than once: Email")]
    # A template without a column title stays, so that the API says the title is missing.
    assert parse([("column_title", " "), ("column_template", "{subject}")]).columns == [("", "{subject}")]


def _api_problems(kind: str, change: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    base = {**SPECS[kind], "connection_id": CONNECTION, "name": "n"}
    body = {**base, **{k: {**base[k], **v} for k, v in change.items()}}
    with pytest.raises(ValidationError) as raised:
        RecipeCreate.model_validate(body)
    return [(tuple(e["loc"]), e["msg"]) for e in raised.value.errors()]


@pytest.mark.parametrize(
    ("kind", "change", "field", "says"),
    [
        ("email_item", {"action": {"item_name": "{subjct}"}}, "item_name", "unknown placeholder {subjct}"),
        ("email_item", {"action": {"reply_update": "{nope}"}}, "reply_update", "unknown placeholder {nope}"),
        ("email_item", {"action": {"columns": {"Email": "{x}"}}}, "columns", "column 'Email'"),
        ("email_item", {"action": {"columns": {" ": "{to}"}}}, "columns", "a column title is empty"),
        ("email_item", {"action": {"board_id": "board-1"}}, "board", "'board-1' is not a board id"),
        ("email_item", {"action": {"group": ""}}, "group", "at least 1 character"),
        (
            "email_item",
            {"action": {"destination": "monday", "board_id": "12"}},
            "attachments",
            "attachments can only go onto built-in boards",
        ),
        ("email_item", {"trigger": {"folder": "JunkEmail"}}, "folder", "junk mail is never read"),
        ("email_item", {"trigger": {"conditions": {"from": ["acme"]}}}, "from", "is not a sender pattern"),
        (
            "email_item",
            {"trigger": {"conditions": {"subject_contains": ["ok", " "]}}},
            "subject_contains",
            "at least 1 character",
        ),
        ("email_item", {"trigger": {"conditions": {"importance": ["urgent"]}}}, "importance", "'high'"),
        ("email_update", {"action": {"body": "{bdy}"}}, "update_body", "body: unknown placeholder {bdy}"),
        ("email_update", {"action": {"find": {"column": "Email", "value": "{x}"}}}, "find_value", "{x}"),
        ("email_update", {"action": {"find": {"column": "", "value": "v"}}}, "find_column", "at least 1"),
        ("email_update", {"action": {"board_id": "abc"}}, "board", "not a monday.com board id"),
        ("item_created", {"trigger": {"board_id": "x"}}, "board", "'x' is not a board id"),
        ("item_created", {"action": {"subject": "{subjct}"}}, "email_subject", "unknown placeholder"),
        ("item_created", {"action": {"to": ""}}, "email_to", "at least 1 character"),
        ("column_changed", {"action": {"body": "{column:}"}}, "email_body", "names no column"),
        ("column_changed", {"trigger": {"column": ""}}, "column", "at least 1 character"),
    ],
)
def test_each_model_problem_lands_next_to_its_field(kind, change, field, says):
    problems = _api_problems(kind, change)
    errors = errors_by_field(problems, kind)
    assert field in errors, (problems, errors)
    assert says in " ".join(errors[field])
    assert not any(m.startswith("Value error, ") for m in errors[field])


def test_a_trigger_and_action_that_do_not_pair_are_told_at_the_top():
    body = {
        "connection_id": CONNECTION,
        "name": "n",
        "trigger": SPECS["email_item"]["trigger"],
        "action": SPECS["item_created"]["action"],
    }
    with pytest.raises(ValidationError) as raised:
        RecipeCreate.model_validate(body)
    problems = [(tuple(e["loc"]), e["msg"]) for e in raised.value.errors()]
    assert errors_by_field(problems, "email_item") == {
        "": ["an email_received trigger needs a create_item or create_update action, not send_email"]
    }


@pytest.mark.parametrize(
    ("loc", "kind", "field"),
    [
        # recipes.board_check and recipes.checks, as the API's 422 lists them
        (["body", "action", "group"], "email_item", "group"),
        (["body", "action", "columns", "Owner"], "email_item", "columns"),
        (["body", "action", "board_id"], "email_update", "board"),
        (["body", "action", "find", "column"], "email_update", "find_column"),
        (["body", "action", "destination"], "email_item", "board"),
        (["body", "trigger", "board_id"], "column_changed", "board"),
        (["body", "trigger", "source"], "item_created", "board"),
        (["body", "trigger", "column"], "column_changed", "column"),
        (["body", "trigger", "to"], "column_changed", "to_value"),
        (["body", "action", "to"], "item_created", "email_to"),
        (["body", "action", "subject"], "column_changed", "email_subject"),
        (["body", "action", "body"], "column_changed", "email_body"),
        (["body", "connection_id"], "item_created", "connection_id"),
        (["body", "name"], "item_created", "name"),
        # the pairing check of RecipeSpec, and a problem of no field at all
        (["body"], "email_item", ""),
        ([], "email_item", ""),
        # a field this kind's form does not show goes to the top
        (["body", "action", "group"], "item_created", ""),
    ],
)
def test_each_save_problem_lands_next_to_its_field(loc, kind, field):
    assert errors_by_field([(loc, "why")], kind) == {field: ["why"]}


def test_field_for_reads_the_union_tag_out_of_the_path():
    assert field_for(("trigger", "email_received", "conditions", "cc_contains", 0), "m", "email_item") == (
        "cc_contains"
    )
    assert field_for(("action", "create_update", "find", "value"), "m", "email_update") == "find_value"
