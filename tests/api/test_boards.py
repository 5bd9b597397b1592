"""Boards API on a real SQLite database: the issue's body verbatim, account scoping, validation."""

from __future__ import annotations

import uuid
from typing import Any

from boards.draft import ItemDraft
from boards.store import BoardStore
from tests.api.conftest import bearer
from tests.recipes.support import SUPPORT_BOARD

ISSUE_BODY = {
    "name": "Support",
    "groups": ["New"],
    "columns": [
        {"title": "From", "type": "email"},
        {"title": "Received", "type": "date"},
        {"title": "Preview", "type": "long_text"},
    ],
}


async def test_create_board_with_the_issue_body(client, admin):
    response = await client.post("/api/boards", json=ISSUE_BODY, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    board = response.json()
    uuid.UUID(board["id"])
    assert board["name"] == "Support"
    assert [g["title"] for g in board["groups"]] == ["New"]
    assert all(uuid.UUID(g["id"]) for g in board["groups"])
    assert [(c["title"], c["type"]) for c in board["columns"]] == [
        ("From", "email"),
        ("Received", "date"),
        ("Preview", "long_text"),
    ]
    assert all(uuid.UUID(c["id"]) for c in board["columns"])


async def test_list_and_get_are_scoped_to_the_account(client, admin, member, stranger):
    shared = {**ISSUE_BODY, "visibility": "account"}
    created = (await client.post("/api/boards", json=shared, headers=bearer(admin[1]))).json()
    # A member of the same account sees a board shared with the account (tests/api/test_board_visibility.py
    # has the private ones).
    listed = (await client.get("/api/boards", headers=bearer(member[1]))).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == created["id"]
    got = await client.get(f"/api/boards/{created['id']}", headers=bearer(member[1]))
    assert got.status_code == 200 and got.json() == {**created, "created_at": got.json()["created_at"]}
    # Another account neither lists nor reaches it.
    assert (await client.get("/api/boards", headers=bearer(stranger[1]))).json() == {"data": [], "count": 0}
    for path in (f"/api/boards/{created['id']}", f"/api/boards/{created['id']}/items"):
        response = await client.get(path, headers=bearer(stranger[1]))
        assert response.status_code == 404 and response.json()["detail"] == "board not found"


async def test_items_show_columns_by_title_and_updates(client, admin, engine):
    board = (await client.post("/api/boards", json=ISSUE_BODY, headers=bearer(admin[1]))).json()
    empty = await client.get(f"/api/boards/{board['id']}/items", headers=bearer(admin[1]))
    assert empty.status_code == 200 and empty.json()["items"] == []

    store = BoardStore(engine)
    draft = ItemDraft(name="Need help", group="New", columns={"From": "a@customer.example", "Preview": "Hi"})
    item_id, created = store.create_item_once(
        recipe_id="r1", message_id="m1", connection_id="c1", draft=draft, board_id=board["id"]
    )
    assert created
    store.add_update_once(recipe_id="r2", message_id="m2", connection_id="c1", item_id=item_id, body="more")

    items = (await client.get(f"/api/boards/{board['id']}/items", headers=bearer(admin[1]))).json()["items"]
    assert len(items) == 1
    item = items[0]
    assert item["id"] == item_id and item["name"] == "Need help" and item["group"] == "New"
    assert item["columns"] == {"From": "a@customer.example", "Received": None, "Preview": "Hi"}
    assert [u["body"] for u in item["updates"]] == ["more"]
    assert item["created_at"]


async def test_items_paginate(client, admin, engine):
    board = (await client.post("/api/boards", json=SUPPORT_BOARD, headers=bearer(admin[1]))).json()
    store = BoardStore(engine)
    for n in range(3):
        store.create_item_once(
            recipe_id="r",
            message_id=f"m{n}",
            connection_id="c",
            draft=ItemDraft(name=f"item {n}", group="New"),
            board_id=board["id"],
        )
    path = f"/api/boards/{board['id']}/items"
    page = (await client.get(path, params={"limit": 2}, headers=bearer(admin[1]))).json()
    assert [i["name"] for i in page["items"]] == ["item 0", "item 1"]
    rest = (await client.get(path, params={"limit": 2, "offset": 2}, headers=bearer(admin[1]))).json()
    assert [i["name"] for i in rest["items"]] == ["item 2"]


def _problems(response: Any) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    return [(d["loc"], d["msg"]) for d in response.json()["detail"]]


async def test_validation_names_the_field_and_the_reason(client, admin):
    h = bearer(admin[1])
    duplicate = {
        **ISSUE_BODY,
        "columns": [{"title": "From", "type": "email"}, {"title": "from", "type": "text"}],
    }
    [(loc, msg)] = _problems(await client.post("/api/boards", json=duplicate, headers=h))
    assert loc == ["body", "columns"] and "duplicate column title 'from'" in msg

    unknown = {**ISSUE_BODY, "columns": [{"title": "X", "type": "rating"}]}
    [(loc, msg)] = _problems(await client.post("/api/boards", json=unknown, headers=h))
    assert loc == ["body", "columns", 0, "type"] and "'long_text'" in msg

    no_groups = {**ISSUE_BODY, "groups": []}
    [(loc, msg)] = _problems(await client.post("/api/boards", json=no_groups, headers=h))
    assert loc == ["body", "groups"] and "at least one group" in msg

    same_groups = {**ISSUE_BODY, "groups": ["New", "new"]}
    [(loc, msg)] = _problems(await client.post("/api/boards", json=same_groups, headers=h))
    assert loc == ["body", "groups"] and "duplicate group title" in msg

    blank_name = {**ISSUE_BODY, "name": "  "}
    [(loc, _msg)] = _problems(await client.post("/api/boards", json=blank_name, headers=h))
    assert loc == ["body", "name"]

    extra = {**ISSUE_BODY, "colour": "red"}
    [(loc, _msg)] = _problems(await client.post("/api/boards", json=extra, headers=h))
    assert loc == ["body", "colour"]

    assert (await client.get("/api/boards/not-an-id", headers=h)).status_code == 422
    assert (await client.get("/api/boards", headers=h)).json()["count"] == 0


async def test_boards_need_a_signed_in_user(client):
    assert (await client.post("/api/boards", json=ISSUE_BODY)).status_code == 401
    assert (await client.get("/api/boards")).status_code == 401
