"""PATCH /api/boards/{id} on a real SQLite database through the app: every kind of change, all or
nothing, items never lost, the recipes a change affects named, 404/409/422 answers and never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.conftest import bearer
from tests.recipes.support import add_connection, recipe_body

BILLING = {
    "name": "Billing",
    "groups": ["New", "Done"],
    "columns": [
        {"title": "From", "type": "email"},
        {"title": "Received", "type": "date"},
        {"title": "Preview", "type": "long_text"},
        {"title": "Status", "type": "status", "labels": ["New", "Working on it", "Done"]},
    ],
}


@pytest.fixture
async def board(client, admin) -> dict[str, Any]:
    response = await client.post("/api/boards", json=BILLING, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add_item(
    client: httpx.AsyncClient, token: str, board: dict[str, Any], **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/api/boards/{board['id']}/items", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch(client: httpx.AsyncClient, token: str, board: dict[str, Any], body: Any) -> httpx.Response:
    return await client.patch(f"/api/boards/{board['id']}", json=body, headers=bearer(token))


async def items(client: httpx.AsyncClient, token: str, board: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get(f"/api/boards/{board['id']}/items", headers=bearer(token))
    return list(response.json()["items"])


def titles(board: dict[str, Any], what: str) -> list[str]:
    return [x["title"] for x in board[what]]


async def test_every_change_in_one_request(client, admin, board):
    body = {
        "name": "Billing 2026",
        "changes": [
            {"op": "add_group", "title": "Waiting"},
            {"op": "rename_group", "group": "done", "title": "Closed"},
            {"op": "remove_group", "group": "New"},
            {"op": "add_column", "title": "Priority", "type": "status", "labels": ["Low", "High"]},
            {"op": "add_column", "title": "Amount", "type": "number"},
            {"op": "rename_column", "column": "From", "title": "Sender"},
            {"op": "remove_column", "column": "Preview"},
            {"op": "set_labels", "column": "Status", "labels": ["New", "Done", "Blocked"]},
        ],
    }
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == "Billing 2026"
    assert titles(changed, "groups") == ["Closed", "Waiting"]
    assert titles(changed, "columns") == ["Sender", "Received", "Status", "Priority", "Amount"]
    columns = {c["title"]: c for c in changed["columns"]}
    assert columns["Status"]["labels"] == ["New", "Done", "Blocked"]
    assert (columns["Priority"]["type"], columns["Priority"]["labels"]) == ("status", ["Low", "High"])
    assert columns["Amount"]["type"] == "number"
    # Renamed rows keep their ids (items' values are keyed by them).
    assert columns["Sender"]["id"] == board["columns"][0]["id"]
    assert changed["affected_recipes"] == []
    got = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    answer_only = {"affected_recipes", "other_members_affected_recipes"}
    assert got == {k: v for k, v in changed.items() if k not in answer_only}


async def test_changes_apply_in_order_swaps_and_reuse_of_titles(client, admin, board):
    body = {
        "changes": [
            {"op": "rename_group", "group": "New", "title": "Tmp"},
            {"op": "rename_group", "group": "Done", "title": "New"},
            {"op": "rename_group", "group": "Tmp", "title": "Done"},
            {"op": "remove_column", "column": "From"},
            {"op": "add_column", "title": "From", "type": "text"},
            {"op": "rename_column", "column": "received", "title": "RECEIVED"},
        ]
    }
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert [(g["id"], g["title"]) for g in changed["groups"]] == [
        (board["groups"][0]["id"], "Done"),
        (board["groups"][1]["id"], "New"),
    ]
    columns = {c["title"]: c for c in changed["columns"]}
    assert columns["From"]["type"] == "text" and columns["From"]["id"] != board["columns"][0]["id"]
    assert "RECEIVED" in columns


async def test_removing_a_group_with_items_is_refused_unless_they_move(client, admin, board):
    for n in range(3):
        await add_item(client, admin[1], board, name=f"Invoice {n}", group="New")
    refused = await patch(client, admin[1], board, {"changes": [{"op": "remove_group", "group": "New"}]})
    assert refused.status_code == 409
    assert "group 'New' has 3 item(s)" in refused.json()["detail"]
    assert "move_items_to" in refused.json()["detail"]
    assert len(await items(client, admin[1], board)) == 3

    body = {"changes": [{"op": "remove_group", "group": "New", "move_items_to": "Done"}]}
    moved = await patch(client, admin[1], board, body)
    assert moved.status_code == 200, moved.text
    assert titles(moved.json(), "groups") == ["Done"]
    assert [i["group"] for i in await items(client, admin[1], board)] == ["Done"] * 3


async def test_items_can_move_to_a_group_added_in_the_same_request(client, admin, board):
    await add_item(client, admin[1], board, name="Invoice", group="New")
    body = {
        "changes": [
            {"op": "remove_group", "group": "New", "move_items_to": "Inbox"},
            {"op": "add_group", "title": "Inbox"},
        ]
    }
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 200, response.text
    assert [i["group"] for i in await items(client, admin[1], board)] == ["Inbox"]


async def test_a_failure_midway_changes_nothing(client, admin, board):
    await add_item(client, admin[1], board, name="Invoice", group="Done")
    # The first changes are fine; the last one would lose the item: none of them is made.
    body = {
        "name": "Renamed",
        "changes": [
            {"op": "add_group", "title": "Later"},
            {"op": "rename_column", "column": "From", "title": "Sender"},
            {"op": "remove_group", "group": "New", "move_items_to": "Later"},
            {"op": "remove_group", "group": "Done"},
        ],
    }
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 409, response.text
    got = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert got == board
    # The same for a change rejected as invalid after valid ones.
    body["changes"] = [*body["changes"][:2], {"op": "rename_group", "group": "Nope", "title": "X"}]
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "changes", 2, "group"]
    assert (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json() == board


async def test_removed_column_values_go_the_items_stay(client, admin, board):
    await add_item(client, admin[1], board, name="Invoice", columns={"Preview": "Hi", "From": "a@b.example"})
    response = await patch(
        client, admin[1], board, {"changes": [{"op": "remove_column", "column": "Preview"}]}
    )
    assert response.status_code == 200, response.text
    (item,) = await items(client, admin[1], board)
    assert item["name"] == "Invoice" and item["columns"] == {
        "From": "a@b.example",
        "Received": None,
        "Status": None,
    }


async def test_labels_in_use_are_kept_unless_relabelled(client, admin, board):
    await add_item(client, admin[1], board, name="A", columns={"Status": "Done"})
    await add_item(client, admin[1], board, name="B", columns={"Status": "Working on it"})
    await add_item(client, admin[1], board, name="C", columns={"Status": "new"})
    change: dict[str, Any] = {"op": "set_labels", "column": "Status", "labels": ["NEW", "Finished"]}
    refused = await patch(client, admin[1], board, {"changes": [change]})
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "1 item(s) have the label 'Done'" in detail and "'Working on it'" in detail and "relabel" in detail

    change["relabel"] = {"done": "finished", "Working on it": None}
    response = await patch(client, admin[1], board, {"changes": [change]})
    assert response.status_code == 200, response.text
    status = {i["name"]: i["columns"]["Status"] for i in await items(client, admin[1], board)}
    # Relabelled, cleared on request, and re-cased to the label as the board now spells it.
    assert status == {"A": "Finished", "B": None, "C": "NEW"}


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        ({"op": "add_group", "title": "new"}, ["body", "changes", 0, "title"], "already has a group 'New'"),
        (
            {"op": "rename_group", "group": "New", "title": "DONE"},
            ["body", "changes", 0, "title"],
            "ignoring case",
        ),
        ({"op": "remove_group", "group": "Missing"}, ["body", "changes", 0, "group"], "no group 'Missing'"),
        (
            {"op": "add_column", "title": "from", "type": "text"},
            ["body", "changes", 0, "title"],
            "column 'From'",
        ),
        (
            {"op": "rename_column", "column": "X", "title": "Y"},
            ["body", "changes", 0, "column"],
            "no column 'X'",
        ),
        (
            {"op": "set_labels", "column": "From", "labels": ["A"]},
            ["body", "changes", 0, "column"],
            "only status",
        ),
        (
            {"op": "set_labels", "column": "Status", "labels": ["A", "a"]},
            ["body", "changes", 0, "labels"],
            "duplicate label",
        ),
        (
            {"op": "set_labels", "column": "Status", "labels": ["A"], "relabel": {"Done": "B"}},
            ["body", "changes", 0, "relabel", "Done"],
            "not one of the new labels",
        ),
        (
            {"op": "remove_group", "group": "New", "move_items_to": "New"},
            ["body", "changes", 0, "move_items_to"],
            "no group 'New' after this change",
        ),
    ],
)
async def test_invalid_changes_are_422_naming_where(client, admin, board, change, loc, words):
    response = await patch(client, admin[1], board, {"changes": [change]})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == loc and words in problem["msg"]


async def test_at_least_one_group_remains(client, admin, board):
    body = {"changes": [{"op": "remove_group", "group": "New"}, {"op": "remove_group", "group": "Done"}]}
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 422
    assert "at least one group" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        {"changes": "x"},
        {"changes": [{}]},
        {"changes": [{"op": "explode"}]},
        {"changes": [{"op": "add_column", "title": "S", "type": "status"}]},
        {"changes": [{"op": "add_column", "title": "T", "type": "text", "labels": ["a"]}]},
        {"changes": [{"op": "add_column", "title": "T", "type": "spreadsheet"}]},
        {"changes": [{"op": "add_group", "title": "   "}]},
        {"changes": [{"op": "add_group", "title": "x" * 201}]},
        {"changes": [{"op": "add_group", "title": "G", "extra": 1}]},
        {"name": ""},
        {"name": None, "changes": [{"op": "add_group", "title": f"G{n}"} for n in range(101)]},
        {"changes": [{"op": "add_group", "title": f"G{n}"} for n in range(49)]},
    ],
)
async def test_odd_input_is_never_a_500(client, admin, board, body):
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


async def test_another_accounts_board_is_404(client, admin, stranger, board):
    response = await patch(client, stranger[1], board, {"name": "Mine now"})
    assert response.status_code == 404 and response.json() == {"detail": "board not found"}
    missing = await client.patch(
        "/api/boards/00000000-0000-0000-0000-000000000000", json={"name": "x"}, headers=bearer(admin[1])
    )
    assert missing.status_code == 404
    bad_id = await client.patch("/api/boards/not-a-uuid", json={"name": "x"}, headers=bearer(admin[1]))
    assert bad_id.status_code == 422
    assert (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()[
        "name"
    ] == "Billing"


async def test_the_answer_names_the_recipes_a_change_affects(client, admin, engine, board):
    connection_id = await _connection(engine, admin[0], scopes="User.Read Mail.Read Mail.Send")
    incoming = recipe_body(connection_id, board["id"])
    created = await client.post("/api/recipes", json=incoming, headers=bearer(admin[1]))
    assert created.status_code == 201, created.text
    outgoing = {
        "connection_id": connection_id,
        "name": "Done mail",
        "trigger": {"type": "column_changed", "board_id": board["id"], "column": "Status", "to": "Done"},
        "action": {"type": "send_email", "to": "{column:From}", "subject": "{name}", "body": "Done."},
    }
    watching = await client.post("/api/recipes", json=outgoing, headers=bearer(admin[1]))
    assert watching.status_code == 201, watching.text
    body = {
        "changes": [
            {"op": "rename_group", "group": "New", "title": "Inbox"},
            {"op": "rename_column", "column": "From", "title": "Sender"},
            {"op": "set_labels", "column": "Status", "labels": ["Open", "Closed"]},
        ]
    }
    response = await patch(client, admin[1], board, body)
    assert response.status_code == 200, response.text
    affected = {a["name"]: a for a in response.json()["affected_recipes"]}
    assert set(affected) == {"Support mail", "Done mail"}
    assert affected["Support mail"]["id"] == created.json()["id"]
    support = "\n".join(affected["Support mail"]["problems"])
    assert "has no group 'New'" in support and "has no column 'From'" in support
    assert "group 'New' was renamed to 'Inbox'" in support and "recipes are not rewritten" in support
    done = "\n".join(affected["Done mail"]["problems"])
    assert "no label 'Done'" in done and "column 'From' was renamed to 'Sender'" in done
    # Recipes are not rewritten.
    recipe = (await client.get(f"/api/recipes/{created.json()['id']}", headers=bearer(admin[1]))).json()
    assert recipe["action"]["group"] == "New"
    # Every recipe that still does not fit is named on the next change too; once fixed, none is.
    calm = await patch(client, admin[1], board, {"changes": [{"op": "add_group", "title": "Later"}]})
    assert [a["name"] for a in calm.json()["affected_recipes"]] == ["Support mail", "Done mail"]
    back = {
        "changes": [
            {"op": "rename_group", "group": "Inbox", "title": "New"},
            {"op": "rename_column", "column": "Sender", "title": "From"},
            {"op": "set_labels", "column": "Status", "labels": ["Open", "Done"]},
        ]
    }
    fixed = await patch(client, admin[1], board, back)
    assert fixed.status_code == 200 and fixed.json()["affected_recipes"] == []


async def _connection(engine: Any, user_id: Any, scopes: str) -> str:
    return await asyncio.to_thread(add_connection, engine, user_id, scopes=scopes)
