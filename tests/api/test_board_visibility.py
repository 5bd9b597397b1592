"""Board isolation (issue 12): a board is private to its owner unless shared with the account; another
member (an admin too) gets 404 for a private board and everything on it; a shared board's items are
everyone's to work on, but only its owner or an admin changes the board itself; a recipe names only a
board its owner sees."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from boards.destination import FileDraft
from boards.store import BoardStore
from db.boards import Board
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.recipes.support import SUPPORT_BOARD, add_connection, recipe_body


@pytest.fixture
def owner(engine, admin):
    """(user id, token) of a member who owns the boards below (`member` is the other member)."""
    from accounts import service
    from db.accounts import User

    with session_scope(engine) as session:
        account = session.get_one(User, admin[0]).account
        user = service.create_user(
            session, account, email="owner@acme.example", display_name="O", role="member"
        )
        return user.id, service.issue_api_token(session, user, "test").plain


async def _board(client, who, visibility: str | None = None) -> dict[str, Any]:
    body = SUPPORT_BOARD | ({"visibility": visibility} if visibility else {})
    response = await client.post("/api/boards", json=body, headers=bearer(who[1]))
    assert response.status_code == 201, response.text
    board: dict[str, Any] = response.json()
    return board


async def _item_with_everything(client, who, engine, board_id: str) -> tuple[str, str]:
    """An item with an update and a file; returns (item id, file id)."""
    item = await client.post(
        f"/api/boards/{board_id}/items", json={"name": "Invoice"}, headers=bearer(who[1])
    )
    assert item.status_code == 201, item.text
    item_id = item.json()["id"]
    update = await client.post(f"/api/items/{item_id}/updates", json={"body": "paid"}, headers=bearer(who[1]))
    assert update.status_code == 201
    pdf = FileDraft(name="a.pdf", content_type="application/pdf", content=b"%PDF")
    assert await asyncio.to_thread(BoardStore(engine).attach_files, item_id, [pdf]) == 1
    shown = await client.get(f"/api/items/{item_id}", headers=bearer(who[1]))
    return item_id, shown.json()["files"][0]["id"]


async def test_a_new_board_is_private_to_its_owner(client, owner, member, admin, stranger, engine):
    board = await _board(client, owner)
    assert board["visibility"] == "private" and board["owner_id"] == str(owner[0])
    item_id, file_id = await _item_with_everything(client, owner, engine, board["id"])
    b, i = board["id"], item_id
    for who in (member, admin, stranger):
        h = bearer(who[1])
        listed = await client.get("/api/boards", headers=h)
        assert listed.status_code == 200 and b not in listed.text
        for method, path, body in [
            ("GET", f"/api/boards/{b}", None),
            ("PATCH", f"/api/boards/{b}", {"name": "Mine now"}),
            ("GET", f"/api/boards/{b}/items", None),
            ("POST", f"/api/boards/{b}/items", {"name": "Sneaky"}),
            ("GET", f"/api/items/{i}", None),
            ("PATCH", f"/api/items/{i}", {"name": "Changed"}),
            ("POST", f"/api/items/{i}/updates", {"body": "hello"}),
            ("GET", f"/api/items/{i}/files/{file_id}", None),
        ]:
            response = await client.request(method, path, json=body, headers=h)
            assert response.status_code == 404, (who, method, path, response.text)
            assert "Invoice" not in response.text and "Support" not in response.text
    # Nothing changed.
    items = (await client.get(f"/api/boards/{b}/items", headers=bearer(owner[1]))).json()["items"]
    assert [(x["name"], len(x["updates"])) for x in items] == [("Invoice", 1)]
    assert (await client.get(f"/api/boards/{b}", headers=bearer(owner[1]))).json()["name"] == "Support"


async def test_a_shared_board_is_worked_on_by_all_but_changed_by_owner_or_admin(
    client, owner, member, admin, stranger
):
    board = await _board(client, owner, "account")
    b = board["id"]
    listed = (await client.get("/api/boards", headers=bearer(member[1]))).json()
    assert [x["id"] for x in listed["data"]] == [b]
    item = await client.post(
        f"/api/boards/{b}/items", json={"name": "From member"}, headers=bearer(member[1])
    )
    assert item.status_code == 201
    changed = await client.patch(
        f"/api/items/{item.json()['id']}", json={"name": "Renamed"}, headers=bearer(member[1])
    )
    assert changed.status_code == 200
    refused = await client.patch(f"/api/boards/{b}", json={"name": "Taken over"}, headers=bearer(member[1]))
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "only the board's owner or an admin may change the board itself; you may add and change its items"
    )
    by_admin = await client.patch(f"/api/boards/{b}", json={"name": "Support desk"}, headers=bearer(admin[1]))
    assert by_admin.status_code == 200 and by_admin.json()["name"] == "Support desk"
    # Another account still sees nothing of it.
    assert (await client.get(f"/api/boards/{b}", headers=bearer(stranger[1]))).status_code == 404
    assert b not in (await client.get("/api/boards", headers=bearer(stranger[1]))).text

    # The owner makes it private again: the member loses it.
    private = await client.patch(f"/api/boards/{b}", json={"visibility": "private"}, headers=bearer(owner[1]))
    assert private.status_code == 200 and private.json()["visibility"] == "private"
    assert (await client.get(f"/api/boards/{b}", headers=bearer(member[1]))).status_code == 404
    shared = await client.patch(f"/api/boards/{b}", json={"visibility": "account"}, headers=bearer(owner[1]))
    assert shared.status_code == 200
    assert (await client.get(f"/api/boards/{b}", headers=bearer(member[1]))).status_code == 200


@pytest.mark.parametrize("visibility", ["public", "", None, 1])
async def test_an_unknown_visibility_is_422(client, owner, visibility):
    created = await client.post(
        "/api/boards", json=SUPPORT_BOARD | {"visibility": visibility}, headers=bearer(owner[1])
    )
    assert created.status_code == 422 and "visibility" in created.text
    board = await _board(client, owner)
    if visibility is not None:
        patched = await client.patch(
            f"/api/boards/{board['id']}", json={"visibility": visibility}, headers=bearer(owner[1])
        )
        assert patched.status_code == 422 and "visibility" in patched.text


async def test_a_recipe_names_only_a_board_its_owner_sees(client, owner, member, engine):
    private = await _board(client, owner)
    shared = await _board(client, owner, "account")
    connection = add_connection(engine, member[0], mailbox="m@acme.example")
    refused = await client.post(
        "/api/recipes", json=recipe_body(connection, private["id"]), headers=bearer(member[1])
    )
    assert refused.status_code == 422
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "action", "board_id"]
    assert problem["msg"].startswith(f"no board {private['id']} in your account that you may write to")
    made = await client.post(
        "/api/recipes", json=recipe_body(connection, shared["id"]), headers=bearer(member[1])
    )
    assert made.status_code == 201, made.text

    # Now the shared board cannot be made private under the member's recipe, and its changes name only
    # the caller's own recipes (the member's is counted).
    refused = await client.patch(
        f"/api/boards/{shared['id']}", json={"visibility": "private"}, headers=bearer(owner[1])
    )
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "1 recipe(s) of other members use this board; "
        "it stays shared with the account until they no longer do"
    )
    removed = await client.patch(
        f"/api/boards/{shared['id']}",
        json={"changes": [{"op": "remove_column", "column": "Preview"}]},
        headers=bearer(owner[1]),
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["affected_recipes"] == [] and removed.json()["other_members_affected_recipes"] == 1
    assert made.json()["name"] not in removed.text and made.json()["id"] not in removed.text


async def test_boards_from_before_owners_stay_shared_and_admins_keep_ownerless_ones(
    client, admin, member, engine
):
    """Migration 0009 made existing boards `account` boards without an owner; a private board whose owner
    was deleted is seen by admins only."""
    shared = await _board(client, admin, "account")
    private = await _board(client, admin)
    with session_scope(engine) as session:
        for board_id in (shared["id"], private["id"]):
            session.get_one(Board, uuid.UUID(board_id)).owner_id = None
    assert (await client.get(f"/api/boards/{shared['id']}", headers=bearer(member[1]))).status_code == 200
    assert (await client.get(f"/api/boards/{private['id']}", headers=bearer(member[1]))).status_code == 404
    assert (await client.get(f"/api/boards/{private['id']}", headers=bearer(admin[1]))).status_code == 200


async def test_an_ownerless_board_stays_shared_while_members_recipes_use_it(client, admin, member, engine):
    shared = await _board(client, admin, "account")
    connection = add_connection(engine, member[0], mailbox="m@acme.example")
    made = await client.post(
        "/api/recipes", json=recipe_body(connection, shared["id"]), headers=bearer(member[1])
    )
    assert made.status_code == 201, made.text
    with session_scope(engine) as session:
        session.get_one(Board, uuid.UUID(shared["id"])).owner_id = None
    refused = await client.patch(
        f"/api/boards/{shared['id']}", json={"visibility": "private"}, headers=bearer(admin[1])
    )
    assert refused.status_code == 409 and refused.json()["detail"].startswith("1 recipe(s) of other members")
    assert (
        await client.delete(f"/api/recipes/{made.json()['id']}", headers=bearer(member[1]))
    ).status_code == 204
    private = await client.patch(
        f"/api/boards/{shared['id']}", json={"visibility": "private"}, headers=bearer(admin[1])
    )
    assert private.status_code == 200 and private.json()["visibility"] == "private"
