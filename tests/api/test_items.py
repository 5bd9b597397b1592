"""Items API on a real SQLite database through the app: create, show, PATCH column values (board events in
the same transaction), updates, files; errors that say what is wrong, account scoping, never a 500."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from boards.destination import FileDraft
from boards.store import BoardStore
from db.board_events import BoardEvent
from db.engine import session_scope
from tests.api.conftest import bearer

BILLING = {
    "name": "Billing",
    "groups": ["New", "Done"],
    "columns": [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["New", "Working on it", "Done"]},
        {"title": "Amount", "type": "number"},
        {"title": "Due", "type": "date"},
        {"title": "Link", "type": "link"},
        {"title": "Notes", "type": "long_text"},
        {"title": "Subject", "type": "text"},
    ],
}
TITLES = "Email, Status, Amount, Due, Link, Notes, Subject"


@pytest.fixture
async def board(client, admin) -> dict[str, Any]:
    response = await client.post("/api/boards", json=BILLING, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def item(client, admin, board) -> dict[str, Any]:
    body = {
        "name": "Invoice 42",
        "group": "New",
        "columns": {"Email": "grace@customer.example", "Status": "New"},
    }
    response = await client.post(f"/api/boards/{board['id']}/items", json=body, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _events(engine) -> list[tuple[str, str | None, str | None, str | None]]:
    with session_scope(engine) as session:
        rows = session.scalars(select(BoardEvent).order_by(BoardEvent.created_at, BoardEvent.id))
        return [(e.kind, e.column, e.old_value, e.new_value) for e in rows]


async def events(engine) -> list[tuple[str, str | None, str | None, str | None]]:
    return await asyncio.to_thread(_events, engine)


def _detail(response: Any, code: int = 422) -> Any:
    assert response.status_code == code, response.text
    return response.json()["detail"]


async def test_status_columns_show_their_labels(board):
    columns = {c["title"]: c for c in board["columns"]}
    assert columns["Status"]["type"] == "status"
    assert columns["Status"]["labels"] == ["New", "Working on it", "Done"]
    assert columns["Amount"]["type"] == "number" and columns["Amount"]["labels"] == []


@pytest.mark.parametrize(
    ("column", "says"),
    [
        ({"title": "Status", "type": "status"}, "status column 'Status' needs labels"),
        ({"title": "Status", "type": "status", "labels": []}, "needs labels"),
        ({"title": "Status", "type": "status", "labels": ["Done", "done"]}, "duplicate label title 'done'"),
        ({"title": "Note", "type": "text", "labels": ["A"]}, "only status columns have labels"),
        ({"title": "Status", "type": "status", "labels": ["  "]}, "at least 1 character"),
    ],
)
async def test_labels_are_checked_when_a_board_is_made(client, admin, column, says):
    body = {"name": "B", "groups": ["New"], "columns": [column]}
    [problem] = _detail(await client.post("/api/boards", json=body, headers=bearer(admin[1])))
    assert problem["loc"][:3] == ["body", "columns", 0] and says in problem["msg"]


async def test_create_an_item(client, admin, board, item, engine):
    assert item["name"] == "Invoice 42" and item["group"] == "New"
    assert item["columns"] == {
        "Email": "grace@customer.example",
        "Status": "New",
        "Amount": None,
        "Due": None,
        "Link": None,
        "Notes": None,
        "Subject": None,
    }
    assert item["updates"] == [] and item["files"] == []
    assert await events(engine) == [("item_created", None, None, None)]
    # The board's items answer as before, with the new item.
    listed = (await client.get(f"/api/boards/{board['id']}/items", headers=bearer(admin[1]))).json()
    assert listed["count"] == 1 and listed["items"][0] == item
    assert (await client.get(f"/api/items/{item['id']}", headers=bearer(admin[1]))).json() == item


async def test_create_normalises_values_and_defaults_to_the_first_group(client, admin, board):
    body = {
        "name": "  Typed  ",
        "columns": {
            "status": "working on it",
            "Amount": 12.5,
            "Due": "2026-12-01T10:00:00+01:00",
            "Notes": "<p>Hi</p><script>alert(1)</script>",
            "Link": "https://example.com/invoice/42",
            "Subject": None,
        },
    }
    response = await client.post(f"/api/boards/{board['id']}/items", json=body, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Typed" and created["group"] == "New"
    assert created["columns"]["Status"] == "Working on it"
    assert created["columns"]["Amount"] == "12.5"
    assert created["columns"]["Due"] == "2026-12-01T09:00:00Z"
    assert created["columns"]["Notes"] == "<p>Hi</p>"
    assert created["columns"]["Subject"] is None


async def test_create_refuses_what_does_not_fit(client, admin, board, engine):
    path, h = f"/api/boards/{board['id']}/items", bearer(admin[1])
    detail = _detail(await client.post(path, json={"name": "x", "columns": {"Owner": "me"}}, headers=h))
    assert detail == f"board 'Billing' has no column 'Owner'; its columns are: {TITLES}"
    detail = _detail(await client.post(path, json={"name": "x", "group": "Later"}, headers=h))
    assert detail == "board 'Billing' has no group 'Later'; its groups are: New, Done"
    detail = _detail(await client.post(path, json={"name": "x", "columns": {"Email": "grace"}}, headers=h))
    assert detail == "column 'Email' (email) expects an email address such as name@example.com"
    [problem] = _detail(await client.post(path, json={"name": " "}, headers=h))
    assert problem["loc"] == ["body", "name"]
    [problem] = _detail(await client.post(path, json={"name": "x", "colour": "red"}, headers=h))
    assert problem["loc"] == ["body", "colour"]
    assert await events(engine) == []
    missing = await client.post(f"/api/boards/{uuid.uuid4()}/items", json={"name": "x"}, headers=h)
    assert _detail(missing, 404) == "board not found"


async def test_patch_changes_values_and_records_one_event_per_change(client, admin, item, engine):
    path, h = f"/api/items/{item['id']}", bearer(admin[1])
    response = await client.patch(path, json={"columns": {"Status": "Done"}}, headers=h)
    assert response.status_code == 200, response.text
    assert response.json()["columns"]["Status"] == "Done"
    assert (await events(engine))[1:] == [("column_changed", "Status", "New", "Done")]

    # The same value again (any case) is no change: no event.
    again = await client.patch(
        path, json={"columns": {"Status": "done", "Email": "grace@customer.example"}}, headers=h
    )
    assert again.status_code == 200 and len(await events(engine)) == 2

    # Away and back: two more events, the second "to Done" again (what fires a second email).
    await client.patch(path, json={"columns": {"Status": "Working on it"}}, headers=h)
    await client.patch(path, json={"columns": {"Status": "Done"}}, headers=h)
    assert (await events(engine))[3:] == [("column_changed", "Status", "Working on it", "Done")]

    # Clearing, renaming and moving to another group; name and group changes are not column events.
    moved = await client.patch(
        path,
        json={"columns": {"Amount": "7", "Email": None}, "name": "Invoice 42 (paid)", "group": "Done"},
        headers=h,
    )
    assert moved.status_code == 200, moved.text
    shown = moved.json()
    assert (shown["name"], shown["group"], shown["columns"]["Email"], shown["columns"]["Amount"]) == (
        "Invoice 42 (paid)",
        "Done",
        None,
        "7",
    )
    assert sorted((await events(engine))[4:]) == [
        ("column_changed", "Amount", None, "7"),
        ("column_changed", "Email", "grace@customer.example", None),
    ]
    assert (await client.get(path, headers=h)).json() == shown


async def test_patch_refuses_what_does_not_fit_and_writes_nothing(client, admin, item, engine):
    path, h = f"/api/items/{item['id']}", bearer(admin[1])
    before = await events(engine)
    detail = _detail(await client.patch(path, json={"columns": {"Stage": "Done"}}, headers=h))
    assert detail == f"board 'Billing' has no column 'Stage'; its columns are: {TITLES}"
    detail = _detail(await client.patch(path, json={"columns": {"Status": "Closed"}}, headers=h))
    assert detail == "column 'Status' (status) expects one of its labels: New, Working on it, Done"
    for column, value, says in [
        ("Amount", "a lot", "(number) expects a decimal number"),
        ("Due", "tomorrow", "(date) expects an ISO 8601 date"),
        ("Link", "javascript:alert(1)", "(link) expects an http or https URL"),
        ("Subject", "two\nlines", "(text) expects one line of text"),
        ("Notes", "x" * 10_001, "(long_text) expects at most 10000 characters"),
    ]:
        assert says in _detail(await client.patch(path, json={"columns": {column: value}}, headers=h))
    # A valid value before an invalid one: neither is written, and no event.
    detail = _detail(
        await client.patch(path, json={"columns": {"Status": "Done", "Amount": "many"}}, headers=h)
    )
    assert "column 'Amount' (number)" in detail
    detail = _detail(
        await client.patch(path, json={"columns": {"Status": "Done"}, "group": "Archive"}, headers=h)
    )
    assert "has no group 'Archive'" in detail
    assert (await client.get(path, headers=h)).json() == item
    assert await events(engine) == before
    [problem] = _detail(await client.patch(path, json={"columns": {"Status": ["Done"]}}, headers=h))
    assert problem["loc"] == ["body", "columns", "Status"]
    [problem] = _detail(await client.patch(path, json={"status": "Done"}, headers=h))
    assert problem["loc"] == ["body", "status"]


async def test_items_of_another_account_are_not_found(client, admin, stranger, board, item):
    h = bearer(stranger[1])
    for response in (
        await client.get(f"/api/items/{item['id']}", headers=h),
        await client.patch(f"/api/items/{item['id']}", json={"columns": {"Status": "Done"}}, headers=h),
        await client.post(f"/api/items/{item['id']}/updates", json={"body": "hi"}, headers=h),
        await client.get(f"/api/items/{item['id']}/files/{uuid.uuid4()}", headers=h),
        await client.get(f"/api/items/{uuid.uuid4()}", headers=bearer(admin[1])),
    ):
        assert _detail(response, 404) == "item not found"
    assert _detail(await client.post(f"/api/boards/{board['id']}/items", json={"name": "x"}, headers=h), 404)
    assert (await client.get("/api/items/not-an-id", headers=bearer(admin[1]))).status_code == 422
    assert (await client.get(f"/api/items/{item['id']}")).status_code == 401


async def test_updates_are_sanitised_and_listed_newest_last(client, admin, item):
    path, h = f"/api/items/{item['id']}/updates", bearer(admin[1])
    first = await client.post(
        path, json={"body": "<p onclick=x>Paid <b>today</b></p><script>steal()</script>"}, headers=h
    )
    assert first.status_code == 201, first.text
    created = first.json()
    assert set(created) == {"id", "body", "created_at"} and created["body"] == "<p>Paid <b>today</b></p>"
    await client.post(path, json={"body": "second"}, headers=h)
    shown = (await client.get(f"/api/items/{item['id']}", headers=h)).json()
    assert [u["body"] for u in shown["updates"]] == ["<p>Paid <b>today</b></p>", "second"]
    assert shown["updates"][0] == created
    detail = _detail(await client.post(path, json={"body": "<script>only()</script>"}, headers=h))
    assert detail == "the update's body is empty once its HTML is made safe"
    [problem] = _detail(await client.post(path, json={"body": "  "}, headers=h))
    assert problem["loc"] == ["body", "body"]
    [problem] = _detail(await client.post(path, json={"body": "x" * 10_001}, headers=h))
    assert problem["loc"] == ["body", "body"]


async def test_files_are_listed_and_downloaded_as_attachments(client, admin, board, item, engine):
    store = BoardStore(engine)
    files = [
        FileDraft(name="invoice 42 März.pdf", content_type="application/pdf", content=b"%PDF-1.7 bytes"),
        FileDraft(name="page.html", content_type="text/html", content=b"<script>alert(1)</script>"),
    ]
    assert await asyncio.to_thread(store.attach_files, item["id"], files) == 2
    h = bearer(admin[1])
    shown = (await client.get(f"/api/items/{item['id']}", headers=h)).json()
    listed = {f["name"]: f for f in shown["files"]}
    assert set(listed) == {"invoice 42 März.pdf", "page.html"}
    pdf = listed["invoice 42 März.pdf"]
    assert (pdf["content_type"], pdf["size"]) == ("application/pdf", 14) and set(pdf) == {
        "id",
        "name",
        "content_type",
        "size",
    }

    response = await client.get(f"/api/items/{item['id']}/files/{pdf['id']}", headers=h)
    assert response.status_code == 200 and response.content == b"%PDF-1.7 bytes"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"invoice 42 M_rz.pdf\"; filename*=UTF-8''invoice%2042%20M%C3%A4rz.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    html = await client.get(f"/api/items/{item['id']}/files/{listed['page.html']['id']}", headers=h)
    assert html.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in html.headers["content-security-policy"]

    # A file is reached only through its own item.
    other = await client.post(f"/api/boards/{board['id']}/items", json={"name": "y"}, headers=h)
    response = await client.get(f"/api/items/{other.json()['id']}/files/{pdf['id']}", headers=h)
    assert _detail(response, 404) == "file not found"
    response = await client.get(f"/api/items/{item['id']}/files/{uuid.uuid4()}", headers=h)
    assert _detail(response, 404) == "file not found"


@pytest.mark.parametrize(
    "body",
    [
        {"columns": {"Notes": "x" * 100_001}},
        {"columns": {"Amount": "1e999999999"}},
        {"columns": {"Amount": True}},
        {"columns": {"Due": "2026-02-30"}},
        {"columns": {"Due": "9999-12-31T23:59:59-23:59"}},
        {"columns": {"Link": "http://[::1"}},
        {"columns": {"": "x"}},
        {"columns": {f"c{n}": "x" for n in range(51)}},
        {"columns": []},
        {"name": "x" * 501},
        {"group": None, "name": None, "columns": {"Status": None}},
    ],
)
async def test_odd_input_is_never_a_500(client, admin, item, body):
    response = await client.patch(f"/api/items/{item['id']}", json=body, headers=bearer(admin[1]))
    assert response.status_code in (200, 422), response.text
