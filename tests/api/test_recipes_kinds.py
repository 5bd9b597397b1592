"""Recipes API for every kind on a real SQLite database: outgoing send_email recipes, create_update,
monday.com destinations, and what keeps each from being saved (grants, boards, the monday.com link)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from db.accounts import User
from db.engine import session_scope
from db.monday_accounts import MondayAccount
from db.recipes import RecipeRow
from recipes.store import outgoing_recipes_for_board, recipes_for_connection
from tests.api.conftest import bearer
from tests.recipes.support import add_board, add_connection, recipe_body

BILLING = {
    "name": "Billing",
    "groups": ["New"],
    "columns": [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["New", "Done"]},
    ],
}
BOTH = "User.Read Mail.Read Mail.Send"


@pytest.fixture
def board_id(engine, admin) -> str:
    return str(add_board(engine, admin[0], BILLING).id)


def send_body(connection_id: str, board_id: str, **action: Any) -> dict[str, Any]:
    """The issue's outgoing recipe: Status changes to Done -> email the item's Email column."""
    return {
        "connection_id": connection_id,
        "name": "Done mail",
        "trigger": {"type": "column_changed", "board_id": board_id, "column": "Status", "to": "Done"},
        "action": {
            "type": "send_email",
            "to": "{column:Email}",
            "subject": "{name} is done",
            "body": "Your request {name} moved from {old_value} to {new_value}.",
            **action,
        },
    }


def update_body(connection_id: str, board_id: str) -> dict[str, Any]:
    body = recipe_body(connection_id, board_id)
    body["action"] = {
        "type": "create_update",
        "board_id": board_id,
        "find": {"column": "Email", "value": "{from.address}"},
        "body": "{from.name} wrote again: {preview}",
    }
    return body


def _problems(response: Any) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    return [(d["loc"], d["msg"]) for d in response.json()["detail"]]


async def test_outgoing_recipe_round_trip(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0], scopes=BOTH)
    h = bearer(admin[1])
    response = await client.post("/api/recipes", json=send_body(connection_id, board_id), headers=h)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["trigger"]["type"] == "column_changed" and created["action"]["to"] == "{column:Email}"
    assert (await client.get(f"/api/recipes/{created['id']}", headers=h)).json() == created
    assert (await client.get("/api/recipes", headers=h)).json()["count"] == 1

    with session_scope(engine) as session:
        # The row keeps the watched board; the message path never sees an outgoing recipe.
        assert str(session.get_one(RecipeRow, uuid.UUID(created["id"])).board_id) == board_id
        assert recipes_for_connection(session, connection_id) == []
        [watching] = outgoing_recipes_for_board(session, board_id)
        assert watching.id == created["id"] and watching.trigger.type == "column_changed"
        assert outgoing_recipes_for_board(session, uuid.uuid4()) == []

    # item_created instead; then disabled: no longer watching.
    path = f"/api/recipes/{created['id']}"
    trigger = {"type": "item_created", "board_id": board_id}
    patched = await client.patch(path, json={"trigger": trigger}, headers=h)
    assert patched.status_code == 200, patched.text
    # `source` defaults to a built-in board (recipes stored before monday.com triggers read the same).
    assert patched.json()["trigger"] == {**trigger, "source": "builtin"}
    assert (await client.patch(path, json={"enabled": False}, headers=h)).status_code == 200
    with session_scope(engine) as session:
        assert outgoing_recipes_for_board(session, board_id) == []


async def test_incoming_and_outgoing_recipes_are_kept_apart(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0], scopes=BOTH)
    h = bearer(admin[1])
    incoming = (
        await client.post("/api/recipes", json=update_body(connection_id, board_id), headers=h)
    ).json()
    outgoing = (await client.post("/api/recipes", json=send_body(connection_id, board_id), headers=h)).json()
    with session_scope(engine) as session:
        assert [r.id for r in recipes_for_connection(session, connection_id)] == [incoming["id"]]
        assert [r.id for r in outgoing_recipes_for_board(session, board_id)] == [outgoing["id"]]
    assert incoming["action"]["find"] == {"column": "Email", "value": "{from.address}"}


async def test_sending_needs_mail_send(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0], mailbox="ada@acme.example", scopes="User.Read Mail.Read")
    [(loc, msg)] = _problems(
        await client.post("/api/recipes", json=send_body(connection_id, board_id), headers=bearer(admin[1]))
    )
    assert loc == ["body", "connection_id"]
    assert msg == (
        "this recipe sends email, but connection ada@acme.example was not granted Mail.Send: "
        "reconnect it with outgoing mail allowed"
    )
    # Scopes as Microsoft may return them: full resource URIs, any case.
    granted = add_connection(
        engine, admin[0], mailbox="b@acme.example", scopes="https://graph.microsoft.com/mail.send"
    )
    response = await client.post("/api/recipes", json=send_body(granted, board_id), headers=bearer(admin[1]))
    assert response.status_code == 201, response.text


async def test_reading_needs_mail_read(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0], mailbox="ada@acme.example", scopes="User.Read Mail.Send")
    [(loc, msg)] = _problems(
        await client.post("/api/recipes", json=update_body(connection_id, board_id), headers=bearer(admin[1]))
    )
    assert loc == ["body", "connection_id"]
    assert "connection ada@acme.example was not granted Mail.Read" in msg


async def test_a_patch_that_turns_a_recipe_outgoing_is_checked_too(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0])  # Mail.Read only
    h = bearer(admin[1])
    created = (await client.post("/api/recipes", json=update_body(connection_id, board_id), headers=h)).json()
    outgoing = send_body(connection_id, board_id)
    path = f"/api/recipes/{created['id']}"
    # Only the trigger: it no longer pairs with the stored action.
    [(loc, msg)] = _problems(await client.patch(path, json={"trigger": outgoing["trigger"]}, headers=h))
    assert loc == ["body"] and "needs a send_email action, not create_update" in msg
    [(loc, msg)] = _problems(await client.patch(path, json=outgoing | {"connection_id": None}, headers=h))
    assert loc == ["body", "connection_id"]
    both = {"trigger": outgoing["trigger"], "action": outgoing["action"]}
    [(loc, msg)] = _problems(await client.patch(path, json=both, headers=h))
    assert "not granted Mail.Send" in msg
    assert (await client.get(path, headers=h)).json()["action"]["type"] == "create_update"


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        (
            {"trigger": {"column": "Stage"}},
            [
                (
                    ["body", "trigger", "column"],
                    "board 'Billing' has no column 'Stage'; its columns: Email, Status",
                )
            ],
        ),
        (
            {"action": {"to": "{column:Mail}", "body": "{column:Notes} {column:Email}"}},
            [
                (["body", "action", "to"], "has no column 'Mail'"),
                (["body", "action", "body"], "has no column 'Notes'"),
            ],
        ),
        (
            {"trigger": {"to": "Finished"}},
            [
                (
                    ["body", "trigger", "to"],
                    "status column 'Status' of board 'Billing' has no label 'Finished'",
                )
            ],
        ),
        (
            {"action": {"subject": "{nme}"}},
            [(["body", "action", "send_email"], "subject: unknown placeholder {nme}")],
        ),
        (
            {"action": {"subject": "{subject}"}},
            [(["body", "action", "send_email"], "subject: unknown placeholder {subject}")],
        ),
        (
            {"trigger": {"board_id": "nope"}},
            [(["body", "trigger", "column_changed", "board_id"], "not a board id")],
        ),
    ],
)
async def test_outgoing_recipe_fits_its_board(client, admin, engine, board_id, change, problems):
    connection_id = add_connection(engine, admin[0], scopes=BOTH)
    body = send_body(connection_id, board_id)
    for part, fields in change.items():
        body[part] = {**body[part], **fields}
    found = _problems(await client.post("/api/recipes", json=body, headers=bearer(admin[1])))
    assert [loc for loc, _ in found] == [loc for loc, _ in problems]
    for (_, msg), (_, says) in zip(found, problems, strict=True):
        assert says in msg


async def test_a_board_of_another_account_is_not_watched(client, admin, stranger, engine):
    connection_id = add_connection(engine, admin[0], scopes=BOTH)
    foreign = str(add_board(engine, stranger[0], BILLING).id)
    [(loc, msg)] = _problems(
        await client.post("/api/recipes", json=send_body(connection_id, foreign), headers=bearer(admin[1]))
    )
    assert loc == ["body", "trigger", "board_id"] and msg.startswith(f"no board {foreign} in your account")


async def test_create_update_finds_by_an_existing_column(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0])
    body = update_body(connection_id, board_id)
    body["action"]["find"]["column"] = "Owner"
    [(loc, msg)] = _problems(await client.post("/api/recipes", json=body, headers=bearer(admin[1])))
    assert loc == ["body", "action", "find", "column"] and "has no column 'Owner'" in msg


async def test_monday_destination_needs_a_monday_link(client, admin, engine, board_id):
    connection_id = add_connection(engine, admin[0])
    body = copy.deepcopy(recipe_body(connection_id, board_id))
    body["action"] |= {"destination": "monday", "board_id": "1234567890", "columns": {"Text": "{subject}"}}
    h = bearer(admin[1])
    [(loc, msg)] = _problems(await client.post("/api/recipes", json=body, headers=h))
    assert loc == ["body", "action", "destination"]
    assert "your account has no monday.com link" in msg

    with session_scope(engine) as session:
        account_id = session.get_one(User, admin[0]).account_id
        session.add(MondayAccount(account_id=account_id, api_url="https://monday.test/v2"))
    response = await client.post("/api/recipes", json=body, headers=h)
    assert response.status_code == 201, response.text
    assert response.json()["action"]["board_id"] == "1234567890"
    with session_scope(engine) as session:
        # A monday.com board is no built-in board: the row has none.
        assert session.get_one(RecipeRow, uuid.UUID(response.json()["id"])).board_id is None
        [loaded] = recipes_for_connection(session, connection_id)
        assert loaded.builtin_board_id() is None
