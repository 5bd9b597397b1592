"""The board pages (issue 13): /boards lists what the user sees and makes boards; /boards/{id} shows groups,
items, updates and files, changes an item's status through PATCH /api/items/{id}'s own code (the same
board event, the forwarder woken), and edits the board's status labels, columns and groups. Refusals
come back as the page with the reason next to the field (4xx), never a 500, with nothing written."""

from __future__ import annotations

import asyncio
import re
import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select

from api.board_event_forwarder import BoardEventForwarder
from boards.destination import FileDraft
from boards.store import BoardStore
from db.board_events import BoardEvent
from db.boards import Board, BoardItem
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.recipes.support import add_connection, add_enabled_recipe, recipe_body

BILLING = {
    "name": "Billing",
    "groups": ["New", "Paid"],
    "columns": [
        {"title": "From", "type": "email"},
        {"title": "Received", "type": "date"},
        {"title": "Preview", "type": "long_text"},
        {"title": "Status", "type": "status", "labels": ["Working on it", "Done", "Stuck"]},
    ],
}
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class CountingForwarder(BoardEventForwarder):
    """The app's forwarder as far as the item routes see it; counts the wake-ups instead of forwarding."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine, None)  # type: ignore[arg-type]
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


async def sign_in(client, token: str) -> str:
    """Signs the client in with the cookie session; the session's CSRF token."""
    response = await client.post("/signin", data={"token": token})
    assert response.status_code == 303, response.text
    page = await client.get("/boards")
    found = CSRF.search(page.text)
    assert found, "the page's forms carry the CSRF token"
    return found.group(1)


async def make_board(client, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/api/boards", json=body or BILLING, headers=bearer(token))
    assert response.status_code == 201, response.text
    board: dict[str, Any] = response.json()
    return board


async def make_item(client, token: str, board_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/boards/{board_id}/items", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def post_status_labels(
    client, csrf: str, board: dict[str, Any], old: list[str], new: list[str], new_label: str | None = None
) -> Any:
    """The board page's labels form for its Status column: each old label's new name ("" removes it) and
    one label to add."""
    data: dict[str, Any] = {"csrf_token": csrf, "column": "Status", "old_label": old, "label": new}
    if new_label is not None:
        data["new_label"] = new_label
    return await client.post(f"/boards/{board['id']}/labels", data=data)


def count_boards(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Board)) or 0


def column_events(engine, item_id: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """(kind, column, old, new) of the item's events, oldest first, none forwarded yet."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(BoardEvent)
            .where(BoardEvent.item_id == uuid.UUID(item_id))
            .order_by(BoardEvent.created_at, BoardEvent.id)
        ).all()
        assert all(r.forwarded_at is None for r in rows)
        return [(r.kind, r.column, r.old_value, r.new_value) for r in rows]


def item_values(engine, item_id: str) -> str:
    with session_scope(engine) as session:
        return session.get_one(BoardItem, uuid.UUID(item_id)).column_values


class _Form(HTMLParser):
    """The page's form controls (but hidden inputs and buttons) and its labels' `for`."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") not in ("hidden", "submit")):
            self.controls.append(a)


def assert_every_control_labelled(html: str) -> None:
    parser = _Form()
    parser.feed(html)
    assert parser.controls
    unlabelled = [c for c in parser.controls if c.get("id") not in parser.labelled]
    assert not unlabelled, f"controls without a <label for>: {unlabelled}"


def assert_no_inline_script_or_style(html: str) -> None:
    assert "<script>" not in html and "<script " not in html.replace('<script src="/static/', "")
    assert " style=" not in html


# --- the list ------------------------------------------------------------------------------------------


async def test_without_a_session_the_pages_send_you_to_sign_in(client, admin):
    board = await make_board(client, admin[1])
    for method, url in (
        ("GET", "/boards"),
        ("POST", "/boards"),
        ("GET", f"/boards/{board['id']}"),
        ("POST", f"/boards/{board['id']}/labels"),
    ):
        response = await client.request(method, url)
        assert response.status_code == 303 and response.headers["location"] == "/signin", (method, url)


async def test_the_empty_list_says_what_to_do_next(client, admin):
    await sign_in(client, admin[1])
    page = await client.get("/boards")
    assert page.status_code == 200
    assert "Create a board, then a recipe that puts emails on it" in page.text
    assert 'action="/boards"' in page.text and 'method="post"' in page.text
    assert 'href="/boards"' in page.text  # the nav bar: the template had its user
    assert_every_control_labelled(page.text)
    assert_no_inline_script_or_style(page.text)


async def test_the_list_shows_own_and_shared_boards_only(client, admin, member, engine):
    mine = await make_board(client, member[1], {"name": "Mine", "groups": ["New"]})
    shared = await make_board(client, admin[1], {"name": "Team", "groups": ["New"], "visibility": "account"})
    await make_board(client, admin[1], {"name": "Admin private", "groups": ["New"]})
    await sign_in(client, member[1])
    page = await client.get("/boards")
    assert page.status_code == 200
    assert f'href="/boards/{mine["id"]}"' in page.text and f'href="/boards/{shared["id"]}"' in page.text
    assert "Admin private" not in page.text
    assert "Create a board, then a recipe" not in page.text
    assert "table-wrap" in page.text


async def test_creating_a_board_opens_it(client, admin, engine):
    csrf = await sign_in(client, admin[1])
    response = await client.post(
        "/boards",
        data={"csrf_token": csrf, "name": "Billing", "visibility": "account", "groups": "New\n\nPaid\n"},
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/boards/[0-9a-f-]{36}\?done=created", location)
    listed = (await client.get("/api/boards", headers=bearer(admin[1]))).json()["data"]
    assert [(b["name"], b["visibility"], [g["title"] for g in b["groups"]]) for b in listed] == [
        ("Billing", "account", ["New", "Paid"])
    ]
    assert listed[0]["owner_id"] == str(admin[0])
    page = await client.get(location)
    assert page.status_code == 200 and "Board created" in page.text and "No items yet" in page.text


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"name": "   "}, "board-name-error", "Give the board a name."),
        ({"name": "X" * 201}, "board-name-error", "at most 200 characters"),
        ({"name": "Billing", "groups": "  \n"}, "board-groups-error", "at least one group"),
        ({"name": "Billing", "groups": "New\nnew"}, "board-groups-error", "duplicate group title"),
        ({"name": "Billing", "visibility": "public"}, "board-visibility-error", "private"),
    ],
)
async def test_a_bad_board_is_refused_in_words_and_nothing_is_made(client, admin, engine, form, field, words):
    csrf = await sign_in(client, admin[1])
    response = await client.post("/boards", data={"csrf_token": csrf, **form})
    assert response.status_code == 422
    error = re.search(rf'id="{field}">([^<]*)<', response.text)
    assert error and words in error.group(1), response.text
    assert 'value="' + form["name"].strip()[:5] in response.text  # what was typed stays in the form
    assert await asyncio.to_thread(count_boards, engine) == 0


async def test_a_post_without_the_csrf_token_is_refused(client, admin, engine):
    await sign_in(client, admin[1])
    response = await client.post("/boards", data={"name": "Billing"})
    assert response.status_code == 403 and "CSRF" in response.text
    board = await make_board(client, admin[1])
    item = await make_item(client, admin[1], board["id"], name="Invoice 1")
    response = await client.post(
        f"/boards/{board['id']}/items/{item['id']}/change", data={"column": "Status", "value": "Done"}
    )
    assert response.status_code == 403
    assert await asyncio.to_thread(count_boards, engine) == 1
    assert await asyncio.to_thread(column_events, engine, item["id"]) == [("item_created", None, None, None)]


# --- one board -----------------------------------------------------------------------------------------


async def test_the_board_shows_groups_items_updates_and_files(client, admin, engine):
    board = await make_board(client, admin[1])
    item = await make_item(
        client,
        admin[1],
        board["id"],
        name="Invoice 8812",
        group="Paid",
        columns={
            "From": "grace@customer.example",
            "Preview": "Could you <b>check</b> it? 5 < 6<script>x()</script>",
            "Status": "Stuck",
        },
    )
    note = await client.post(
        f"/api/items/{item['id']}/updates",
        json={"body": "<b>Paid</b> <script>y()</script>"},
        headers=bearer(admin[1]),
    )
    assert note.status_code == 201
    connection = await asyncio.to_thread(add_connection, engine, admin[0])
    recipe_id = await asyncio.to_thread(_recipe, engine, admin[0], connection, board["id"])
    await asyncio.to_thread(
        BoardStore(engine).add_update_once,
        recipe_id=recipe_id,
        message_id="AAMk-reply",
        connection_id=connection,
        item_id=item["id"],
        body="Grace: here is the PDF",
    )
    pdf = FileDraft(name="invoice 8812.pdf", content_type="application/pdf", content=b"%PDF-1.7")
    assert await asyncio.to_thread(BoardStore(engine).attach_files, item["id"], [pdf]) == 1
    file_id = (await client.get(f"/api/items/{item['id']}", headers=bearer(admin[1]))).json()["files"][0][
        "id"
    ]
    await sign_in(client, admin[1])

    page = await client.get(f"/boards/{board['id']}")
    assert page.status_code == 200
    text = page.text
    for shown in ("Billing", ">New <", ">Paid <", "Invoice 8812", "grace@customer.example", "Stuck"):
        assert shown in text, shown
    assert 'href="mailto:grace@customer.example"' in text
    assert "Could you <b>check</b> it? 5 &lt; 6" in text  # long text: its HTML made safe
    assert "<b>Paid</b>" in text and "x()" not in text and "y()" not in text  # an update's HTML, made safe
    assert "added through the API" in text
    assert (
        "Grace: here is the PDF" in text and "from an email, by your recipe \u201cSupport mail\u201d" in text
    )
    assert f'href="/api/items/{item["id"]}/files/{file_id}"' in text and "invoice 8812.pdf" in text
    assert '<div class="table-wrap">' in text and "<time datetime=" in text
    assert '<option value="Stuck" selected>' in text
    assert_every_control_labelled(text)
    assert_no_inline_script_or_style(text)
    download = await client.get(f"/api/items/{item['id']}/files/{file_id}")
    assert download.status_code == 200 and download.content == b"%PDF-1.7"


def _recipe(engine, owner_id: uuid.UUID, connection_id: str, board_id: str) -> str:
    with session_scope(engine) as session:
        return str(add_enabled_recipe(session, owner_id, recipe_body(connection_id, board_id)).id)


async def test_another_members_private_board_is_not_found(client, admin, member):
    board = await make_board(client, admin[1])
    item = await make_item(client, admin[1], board["id"], name="Invoice 1")
    csrf = await sign_in(client, member[1])
    assert (await client.get(f"/boards/{board['id']}")).status_code == 404
    assert (await client.get(f"/boards/{uuid.uuid4()}")).status_code == 404
    for url, data in (
        (f"/boards/{board['id']}/items/{item['id']}/change", {"column": "Status", "value": "Done"}),
        (f"/boards/{board['id']}/labels", {"column": "Status", "label": "Done"}),
        (f"/boards/{board['id']}/columns", {"title": "Notes"}),
        (f"/boards/{board['id']}/groups", {"title": "Later"}),
    ):
        response = await client.post(url, data={"csrf_token": csrf, **data})
        assert response.status_code == 404, url
        assert "Billing" not in response.text and "Invoice 1" not in response.text
    own = await make_board(client, member[1], {"name": "Mine", "groups": ["New"]})
    # An item is changed only under its own board's address.
    moved = await client.post(
        f"/boards/{own['id']}/items/{item['id']}/change",
        data={"csrf_token": csrf, "column": "Status", "value": "Done"},
    )
    assert moved.status_code == 404


async def test_a_status_change_from_the_page_is_the_apis_change(client, app, admin, engine):
    forwarder = CountingForwarder(engine)
    app.state.board_event_forwarder = forwarder
    board = await make_board(client, admin[1])
    by_page = await make_item(client, admin[1], board["id"], name="Invoice 1", columns={"Status": "Stuck"})
    by_api = await make_item(client, admin[1], board["id"], name="Invoice 2", columns={"Status": "Stuck"})
    wakes = forwarder.wakes
    csrf = await sign_in(client, admin[1])

    response = await client.post(
        f"/boards/{board['id']}/items/{by_page['id']}/change",
        data={"csrf_token": csrf, "column": "Status", "value": "Done"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/boards/{board['id']}?done=changed#item-{by_page['id']}"
    assert forwarder.wakes == wakes + 1
    api = await client.patch(
        f"/api/items/{by_api['id']}", json={"columns": {"Status": "Done"}}, headers=bearer(admin[1])
    )
    assert api.status_code == 200
    assert forwarder.wakes == wakes + 2

    page_events = await asyncio.to_thread(column_events, engine, by_page["id"])
    api_events = await asyncio.to_thread(column_events, engine, by_api["id"])
    assert (
        page_events
        == api_events
        == [
            ("item_created", None, None, None),
            ("column_changed", "Status", "Stuck", "Done"),
        ]
    )
    shown = await client.get(response.headers["location"])
    assert "Changed." in shown.text and '<option value="Done" selected>' in shown.text

    # The same value again is no change: no event, as from the API.
    again = await client.post(
        f"/boards/{board['id']}/items/{by_page['id']}/change",
        data={"csrf_token": csrf, "column": "Status", "value": "Done"},
    )
    assert again.status_code == 303
    assert await asyncio.to_thread(column_events, engine, by_page["id"]) == page_events
    # (none) clears it.
    cleared = await client.post(
        f"/boards/{board['id']}/items/{by_page['id']}/change",
        data={"csrf_token": csrf, "column": "Status", "value": ""},
    )
    assert cleared.status_code == 303
    events = await asyncio.to_thread(column_events, engine, by_page["id"])
    assert events[-1] == ("column_changed", "Status", "Done", None)


async def test_an_unknown_label_is_refused_next_to_the_item(client, admin, engine):
    board = await make_board(client, admin[1])
    item = await make_item(client, admin[1], board["id"], name="Invoice 1", columns={"Status": "Stuck"})
    before = await asyncio.to_thread(item_values, engine, item["id"])
    csrf = await sign_in(client, admin[1])
    for column, value in (("Status", "Nope"), ("Colour", "Red")):
        response = await client.post(
            f"/boards/{board['id']}/items/{item['id']}/change",
            data={"csrf_token": csrf, "column": column, "value": value},
        )
        assert response.status_code == 422, response.text
        assert 'class="field-error"' in response.text and "Invoice 1" in response.text
    assert "Nope" in response.text or "Colour" in response.text
    assert await asyncio.to_thread(item_values, engine, item["id"]) == before
    assert await asyncio.to_thread(column_events, engine, item["id"]) == [("item_created", None, None, None)]


# --- the column editor ---------------------------------------------------------------------------------


async def test_labels_are_renamed_added_and_removed(client, admin, engine):
    board = await make_board(client, admin[1])
    item = await make_item(
        client, admin[1], board["id"], name="Invoice 1", columns={"Status": "Working on it"}
    )
    csrf = await sign_in(client, admin[1])
    page = await client.get(f"/boards/{board['id']}")
    assert "Labels of the status column Status" in page.text

    olds = ["Working on it", "Done", "Stuck"]
    renamed = await post_status_labels(
        client, csrf, board, olds, ["In progress", "Done", ""], new_label="Waiting"
    )
    assert renamed.status_code == 303 and renamed.headers["location"] == f"/boards/{board['id']}?done=labels"
    shown = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert shown["columns"][3]["labels"] == ["In progress", "Done", "Waiting"]
    item_now = (await client.get(f"/api/items/{item['id']}", headers=bearer(admin[1]))).json()
    assert item_now["columns"]["Status"] == "In progress"

    # Removing a label an item holds: refused in words, nothing changed.
    refused = await post_status_labels(
        client, csrf, board, ["In progress", "Done", "Waiting"], ["", "Done", "Waiting"]
    )
    assert refused.status_code == 409
    assert "items still have a label you emptied" in refused.text
    assert "1 item(s) have the label \u201cIn progress\u201d" in refused.text
    assert "relabel" not in refused.text
    after = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert after["columns"][3]["labels"] == ["In progress", "Done", "Waiting"]

    duplicate = await post_status_labels(
        client, csrf, board, ["In progress", "Done", "Waiting"], ["In progress", "Done", "Waiting"], "done"
    )
    assert duplicate.status_code == 422 and "duplicate label title" in duplicate.text
    assert 'value="done"' in duplicate.text  # the typed label stays
    nothing = await post_status_labels(client, csrf, board, olds, ["", "", ""])
    assert nothing.status_code == 422 and "at least one label" in nothing.text


async def test_columns_and_groups_are_added(client, admin):
    board = await make_board(client, admin[1], {"name": "Plain", "groups": ["New"]})
    csrf = await sign_in(client, admin[1])
    url = f"/boards/{board['id']}"
    status = await client.post(
        f"{url}/columns",
        data={"csrf_token": csrf, "title": "Status", "column_type": "status", "labels": "New\nDone\n"},
    )
    assert status.status_code == 303
    email = await client.post(
        f"{url}/columns", data={"csrf_token": csrf, "title": "Email", "column_type": "email"}
    )
    assert email.status_code == 303
    group = await client.post(f"{url}/groups", data={"csrf_token": csrf, "title": "Paid"})
    assert group.status_code == 303
    shown = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert [(c["title"], c["type"], c["labels"]) for c in shown["columns"]] == [
        ("Status", "status", ["New", "Done"]),
        ("Email", "email", []),
    ]
    assert [g["title"] for g in shown["groups"]] == ["New", "Paid"]

    for path, data, words in (
        ("columns", {"title": " ", "column_type": "text"}, "Give the column a title."),
        ("columns", {"title": "Stage", "column_type": "status", "labels": ""}, "needs labels"),
        ("columns", {"title": "email", "column_type": "text"}, "already has a column"),
        ("columns", {"title": "Size", "column_type": "colour"}, "Input should be"),
        ("groups", {"title": ""}, "Give the group a title."),
        ("groups", {"title": "paid"}, "already has a group"),
    ):
        response = await client.post(f"{url}/{path}", data={"csrf_token": csrf, **data})
        assert response.status_code == 422, (data, response.text)
        assert words in response.text, (data, response.text)
    again = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert again["columns"] == shown["columns"] and again["groups"] == shown["groups"]


async def test_a_member_works_on_a_shared_boards_items_but_not_its_columns(client, admin, member, engine):
    board = await make_board(client, admin[1], BILLING | {"visibility": "account"})
    item = await make_item(client, admin[1], board["id"], name="Invoice 1")
    csrf = await sign_in(client, member[1])
    page = await client.get(f"/boards/{board['id']}")
    assert page.status_code == 200
    assert "Only the board's owner or an admin changes its columns" in page.text
    assert 'action="/boards/' + board["id"] + '/labels"' not in page.text
    changed = await client.post(
        f"/boards/{board['id']}/items/{item['id']}/change",
        data={"csrf_token": csrf, "column": "Status", "value": "Done"},
    )
    assert changed.status_code == 303
    refused = await client.post(f"/boards/{board['id']}/groups", data={"csrf_token": csrf, "title": "Later"})
    assert refused.status_code == 403 and "may change the board itself" in refused.text
    shown = (await client.get(f"/api/boards/{board['id']}", headers=bearer(admin[1]))).json()
    assert [g["title"] for g in shown["groups"]] == ["New", "Paid"]


def _outgoing_recipe(engine, owner_id: uuid.UUID, board_id: str, name: str) -> str:
    connection = add_connection(
        engine, owner_id, mailbox=f"{name}@acme.example", scopes="User.Read Mail.Send"
    )
    body = {
        "connection_id": connection,
        "name": name,
        "trigger": {"type": "column_changed", "board_id": board_id, "column": "Status", "to": "Done"},
        "action": {"type": "send_email", "to": "{column:From}", "subject": "Done: {name}", "body": "{name}"},
    }
    with session_scope(engine) as session:
        return str(add_enabled_recipe(session, owner_id, body).id)


async def test_the_board_names_your_recipes_a_change_left_not_fitting(client, admin, member, engine):
    board = await make_board(client, admin[1], BILLING | {"visibility": "account"})
    mine = await asyncio.to_thread(_outgoing_recipe, engine, admin[0], board["id"], "Tell the customer")
    await asyncio.to_thread(_outgoing_recipe, engine, member[0], board["id"], "Member's own recipe")
    csrf = await sign_in(client, admin[1])
    assert 'id="broken-recipes"' not in (await client.get(f"/boards/{board['id']}")).text
    renamed = await post_status_labels(
        client, csrf, board, ["Working on it", "Done", "Stuck"], ["Working on it", "Finished", "Stuck"]
    )
    assert renamed.status_code == 303
    page = await client.get(renamed.headers["location"])
    assert 'id="broken-recipes"' in page.text and f'href="/recipes/{mine}"' in page.text
    assert "has no label &#39;Done&#39;" in page.text
    assert "Member&#39;s own recipe" not in page.text and "Member's own recipe" not in page.text
