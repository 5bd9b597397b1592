"""Recipes API on a real SQLite database: the issue's body verbatim, ownership, validation by field."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from db.engine import session_scope
from recipes.model import CreateItemAction, EmailReceivedTrigger
from recipes.store import recipes_for_connection
from tests.api.conftest import bearer
from tests.recipes.support import add_board, add_connection, recipe_body


@pytest.fixture
def setup(engine, admin):
    """(connection id, board id) of the admin's connection and a Support board of their account."""
    return add_connection(engine, admin[0]), str(add_board(engine, admin[0]).id)


async def test_create_with_the_issue_body(client, admin, setup, engine):
    connection_id, board_id = setup
    body = recipe_body(connection_id, board_id)
    response = await client.post("/api/recipes", json=body, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    recipe = response.json()
    uuid.UUID(recipe["id"])
    assert recipe["connection_id"] == connection_id and recipe["owner_id"] == str(admin[0])
    assert recipe["enabled"] is True
    # Echoed as given, with the defaults of what was left out.
    assert recipe["trigger"]["conditions"]["from"] == ["*@customer.example"]
    assert recipe["trigger"]["conditions"]["subject_contains"] == ["help"]
    assert recipe["trigger"]["folder"] == "inbox"
    assert {k: recipe["action"][k] for k in body["action"]} == body["action"]
    assert recipe["action"]["replies"] == "update" and recipe["action"]["destination"] == "builtin"

    # What the message activity loads is the same recipe, typed.
    with session_scope(engine) as session:
        [loaded] = recipes_for_connection(session, connection_id)
    assert loaded.id == recipe["id"] and loaded.owner_id == str(admin[0])
    assert isinstance(loaded.trigger, EmailReceivedTrigger) and isinstance(loaded.action, CreateItemAction)
    assert loaded.trigger.conditions.from_ == ["*@customer.example"]
    assert loaded.action.columns == body["action"]["columns"]


async def test_read_list_patch_delete(client, admin, setup, engine):
    connection_id, board_id = setup
    h = bearer(admin[1])
    created = (await client.post("/api/recipes", json=recipe_body(connection_id, board_id), headers=h)).json()
    path = f"/api/recipes/{created['id']}"

    assert (await client.get(path, headers=h)).json() == created
    listed = (await client.get("/api/recipes", headers=h)).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == created["id"]
    other = str(uuid.uuid4())
    assert (await client.get("/api/recipes", params={"connection_id": other}, headers=h)).json()["count"] == 0

    patched = await client.patch(path, json={"enabled": False, "name": "Renamed"}, headers=h)
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False and patched.json()["name"] == "Renamed"
    assert patched.json()["action"] == created["action"]
    with session_scope(engine) as session:
        assert recipes_for_connection(session, connection_id) == []  # disabled ones are not loaded

    new_action = {**created["action"], "item_name": "[{from.name}] {subject}", "columns": {"From": "{to}"}}
    patched = await client.patch(path, json={"action": new_action}, headers=h)
    assert patched.status_code == 200, patched.text
    assert patched.json()["action"]["columns"] == {"From": "{to}"}

    bad = {**created["action"], "columns": {"Nope": "{subject}"}}
    response = await client.patch(path, json={"action": bad}, headers=h)
    assert response.status_code == 422
    assert (await client.get(path, headers=h)).json()["action"]["columns"] == {"From": "{to}"}

    assert (await client.delete(path, headers=h)).status_code == 204
    assert (await client.get(path, headers=h)).status_code == 404
    assert (await client.delete(path, headers=h)).status_code == 404


async def test_only_the_connection_owner_makes_and_sees_recipes(client, admin, member, stranger, setup):
    connection_id, board_id = setup
    body = recipe_body(connection_id, board_id)
    for user in (member, stranger):  # same account but not the owner; another account
        response = await client.post("/api/recipes", json=body, headers=bearer(user[1]))
        assert response.status_code == 404 and response.json()["detail"] == "connection not found"
    created = (await client.post("/api/recipes", json=body, headers=bearer(admin[1]))).json()
    path = f"/api/recipes/{created['id']}"
    for user in (member, stranger):
        h = bearer(user[1])
        assert (await client.get(path, headers=h)).status_code == 404
        assert (await client.patch(path, json={"enabled": False}, headers=h)).status_code == 404
        assert (await client.delete(path, headers=h)).status_code == 404
        assert (await client.get("/api/recipes", headers=h)).json()["count"] == 0
    assert (await client.get(path, headers=bearer(admin[1]))).json()["enabled"] is True


def _one_problem(response: Any) -> tuple[list[Any], str]:
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    return detail["loc"], detail["msg"]


async def test_board_must_be_in_the_callers_account(client, admin, stranger, engine, setup):
    connection_id, _ = setup
    foreign = str(add_board(engine, stranger[0]).id)
    for board_id in (foreign, str(uuid.uuid4())):
        loc, msg = _one_problem(
            await client.post(
                "/api/recipes", json=recipe_body(connection_id, board_id), headers=bearer(admin[1])
            )
        )
        assert loc == ["body", "action", "board_id"] and "no board" in msg
    loc, msg = _one_problem(
        await client.post(
            "/api/recipes", json=recipe_body(connection_id, "board-1"), headers=bearer(admin[1])
        )
    )
    assert loc == ["body", "action", "create_item"] and "'board-1' is not a board id" in msg


def _with(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "loc", "says"),
    [
        (("action", "group"), "Done", ["body", "action", "group"], "has no group 'Done'; its groups: New"),
        (
            ("action", "columns"),
            {"From": "{from.address}", "Owner": "{to}"},
            ["body", "action", "columns", "Owner"],
            "has no column 'Owner'",
        ),
        # The model's own checks: pydantic's loc names the action's type, the message the field.
        (
            ("action", "columns"),
            {"Preview": "{preview} {attachments}"},
            ["body", "action", "create_item"],
            "column 'Preview': unknown placeholder {attachments}",
        ),
        (
            ("action", "item_name"),
            "{subjct}",
            ["body", "action", "create_item"],
            "item_name: unknown placeholder {subjct}",
        ),
        (("action", "item_name"), "{subject", ["body", "action", "create_item"], "unmatched '{'"),
        (
            ("trigger", "folder"),
            "junkemail",
            ["body", "trigger", "email_received", "folder"],
            "folder 'junkemail' cannot be watched: junk mail is never read",
        ),
        (
            ("trigger", "folder"),
            "SentItems",
            ["body", "trigger", "email_received", "folder"],
            "sent mail is never read",
        ),
        (
            ("trigger", "conditions", "from"),
            ["customer.example"],
            ["body", "trigger", "email_received", "conditions", "from"],
            "is not a sender pattern",
        ),
        (
            ("trigger", "conditions", "subject_contains"),
            [""],
            ["body", "trigger", "email_received", "conditions", "subject_contains", 0],
            "at least 1 character",
        ),
        (
            ("trigger", "conditions", "importance"),
            ["urgent"],
            ["body", "trigger", "email_received", "conditions", "importance", 0],
            "'low', 'normal' or 'high'",
        ),
        (("trigger", "type"), "email_sent", ["body", "trigger"], "'email_received', 'item_created'"),
        (
            ("action",),
            {"type": "send_email", "to": "a@b.example", "subject": "x"},
            ["body"],
            "an email_received trigger needs a create_item or create_update action, not send_email",
        ),
        (("name",), "", ["body", "name"], "at least 1 character"),
        (("connection_id",), "nope", ["body", "connection_id"], "UUID"),
    ],
)
async def test_validation_names_the_field_and_why(client, admin, setup, path, value, loc, says):
    body = _with(recipe_body(*setup), path, value)
    got_loc, msg = _one_problem(await client.post("/api/recipes", json=body, headers=bearer(admin[1])))
    assert got_loc == loc
    assert says in msg


async def test_conditions_are_normalised_and_optional(client, admin, setup):
    body = recipe_body(*setup)
    body["trigger"]["conditions"] = {"from": [" Boss@Acme.Example "]}
    del body["action"]["columns"]
    response = await client.post("/api/recipes", json=body, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    recipe = response.json()
    assert recipe["trigger"]["conditions"] == {
        "from": ["boss@acme.example"],
        "to_contains": [],
        "cc_contains": [],
        "subject_contains": [],
        "body_contains": [],
        "has_attachments": None,
        "importance": [],
    }
    assert recipe["action"]["columns"] == {}
