"""The recipe pages on a real SQLite database, signed in with the browser's session cookie: the list and
its empty states, a form that makes every kind of recipe exactly as the JSON API stores it, problems shown
next to their field with nothing saved, enable/disable, delete with a confirmation, and the dry run
(over a stand-in for Microsoft Graph: answering, and unreachable)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from accounts import permissions
from db.accounts import User
from db.engine import session_scope
from graph.errors import GraphUnavailable
from graph.wire import EmailAddress, MailFolder, Message, Recipient
from recipes.model import REFUSED_FOLDERS
from tests.api.conftest import bearer
from tests.api.test_web_security import sign_in
from tests.recipes.support import add_board, add_connection

BOTH = "User.Read Mail.Read Mail.Send"
BILLING = {
    "name": "Billing",
    "groups": ["New", "Paid"],
    "columns": [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["New", "Done"]},
        {"title": "Preview", "type": "long_text"},
    ],
}


class PageFields(list[tuple[str, str]]):
    """A form's fields as a browser submits them; `names`: every input's name (unticked boxes too)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()


class FormFields(HTMLParser):
    """What a browser would submit for the form with `form_id`: each named input, checked box, selected
    option (or a select's first) and textarea, in document order."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields = PageFields()
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag in ("input", "select", "textarea") and name:
            self.fields.names.add(name)
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button"):
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value") or "", "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields += [(self._select, v) for v in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def form_fields(html: str, form_id: str = "recipe-form") -> PageFields:
    parser = FormFields(form_id)
    parser.feed(html)
    assert parser.fields, f"no form {form_id} on the page"
    return parser.fields


def filled(fields: PageFields, values: Mapping[str, str | list[str]]) -> list[tuple[str, str]]:
    """The page's fields with `values` typed in (a list fills the inputs of that name in order); every
    name given must be an input of the page."""
    assert set(values) <= fields.names, f"not on the form: {set(values) - fields.names}"
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for name, value in fields:
        if name not in values:
            out.append((name, value))
            continue
        given = values[name]
        if isinstance(given, list):
            index = seen.get(name, 0)
            seen[name] = index + 1
            out.append((name, given[index] if index < len(given) else ""))
        elif name not in seen:
            seen[name] = 1
            out.append((name, given))
    # Ticked boxes that the page had unticked, and more values for a list than the page had inputs.
    for name, given in values.items():
        if name not in seen:
            out += [(name, v) for v in (given if isinstance(given, list) else [given])]
    return out


async def submit(client: httpx.AsyncClient, path: str, fields: Sequence[tuple[str, str]]) -> httpx.Response:
    """Posts the fields as a browser does: application/x-www-form-urlencoded, in order."""
    return await client.post(
        path,
        content=urlencode(list(fields)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def error_next_to(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(field)}-error">(.*?)</p>', html, re.S)
    assert match, f"no error next to {field}"
    return unescape(match.group(1))


def created_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/recipes/([0-9a-f-]{36})\?done=created", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


@pytest.fixture
def world(engine, admin) -> dict[str, str]:
    """The admin's mailbox (reads and sends) and their Billing board."""
    return {
        "connection": add_connection(engine, admin[0], scopes=BOTH),
        "board": str(add_board(engine, admin[0], BILLING).id),
    }


@pytest.fixture
async def browser(client: httpx.AsyncClient, admin) -> httpx.AsyncClient:
    """The client signed in as the admin with the session cookie (no bearer token)."""
    await sign_in(client, admin[1])
    return client


async def new_form(browser: httpx.AsyncClient, kind: str, connection: str) -> PageFields:
    page = await browser.get("/recipes/new", params={"kind": kind, "connection_id": connection})
    assert page.status_code == 200, page.text
    return form_fields(page.text)


async def api_recipes(browser: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed = await browser.get("/api/recipes")
    assert listed.status_code == 200
    data: list[dict[str, Any]] = listed.json()["data"]
    return data


def admins_only(engine: Any, admin_id: uuid.UUID) -> None:
    """The account lets only its admins create integrations (and save or enable recipes)."""
    with session_scope(engine) as session:
        account_id = session.get_one(User, admin_id).account_id
        permissions.write(session, account_id, permissions.PermissionsBody(create_integrations="admins"))


# --- signed out, the list and its empty states -----------------------------------------------------


async def test_signed_out_every_page_sends_to_sign_in(client, admin, world, engine):
    recipe = uuid.uuid4()
    for method, path in [
        ("GET", "/recipes"),
        ("GET", "/recipes/new"),
        ("POST", "/recipes"),
        ("GET", f"/recipes/{recipe}"),
        ("POST", f"/recipes/{recipe}"),
        ("POST", f"/recipes/{recipe}/enable"),
        ("GET", f"/recipes/{recipe}/delete"),
        ("POST", f"/recipes/{recipe}/dry-run"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 303 and response.headers["location"] == "/signin", (method, path)


async def test_without_a_mailbox_the_pages_say_to_connect_one_first(browser):
    for path in ("/recipes", "/recipes/new"):
        page = await browser.get(path)
        assert page.status_code == 200
        assert 'id="empty"' in page.text and 'href="/connections"' in page.text
        assert "Connect a mailbox first" in page.text
        assert 'id="recipe-form"' not in page.text


async def test_with_a_mailbox_and_no_recipe_the_list_says_create_one(browser, engine, admin):
    await asyncio.to_thread(add_connection, engine, admin[0])
    page = await browser.get("/recipes")
    assert 'id="empty"' in page.text and 'href="/recipes/new"' in page.text
    assert "Create a recipe" in page.text
    assert 'href="/boards"' in page.text  # no board yet: it says a recipe needs one


async def test_the_list_shows_each_recipe_with_its_mailbox_board_and_state(browser, world, engine, admin):
    fields = await new_form(browser, "email_item", world["connection"])
    made = created_id(
        await submit(browser, "/recipes", filled(fields, {"name": "Invoices <b>", "group": "New"}))
    )
    page = await browser.get("/recipes")
    assert page.status_code == 200
    row = page.text[page.text.index(f'href="/recipes/{made}"') :].split("</tr>")[0]
    assert "Invoices &lt;b&gt;" in row and "Email received → new item" in row
    assert "me@acme.example" in row and f'href="/boards/{world["board"]}">Billing' in row
    assert "enabled" in row


# --- the form makes what the API makes -------------------------------------------------------------


def _cases(world: dict[str, str]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """kind -> (what the user types into the page, the same recipe as a JSON API body)."""
    board = world["board"]
    return {
        "email_item": (
            {
                "name": "Invoices",
                "from": "*@customer.example\nboss@acme.example",
                "subject_contains": "invoice\nbill due",
                "to_contains": "billing",
                "cc_contains": "finance",
                "body_contains": "amount",
                "has_attachments": "yes",
                "importance": ["normal", "high"],
                "group": "New",
                "item_name": "[{from.name}] {subject}",
                "column_title": ["Email", "Preview"],
                "column_template": ["{from.address}", "{preview}"],
                "replies": "item",
                "reply_update": "{from.name}: {body}",
                "attachments": "on",
            },
            {
                "name": "Invoices",
                "trigger": {
                    "type": "email_received",
                    "conditions": {
                        "from": ["*@customer.example", "boss@acme.example"],
                        "subject_contains": ["invoice", "bill due"],
                        "to_contains": ["billing"],
                        "cc_contains": ["finance"],
                        "body_contains": ["amount"],
                        "has_attachments": True,
                        "importance": ["normal", "high"],
                    },
                },
                "action": {
                    "type": "create_item",
                    "board_id": board,
                    "group": "New",
                    "item_name": "[{from.name}] {subject}",
                    "columns": {"Email": "{from.address}", "Preview": "{preview}"},
                    "replies": "item",
                    "reply_update": "{from.name}: {body}",
                    "attachments": True,
                },
            },
        ),
        "email_update": (
            {
                "name": "Follow-ups",
                "has_attachments": "no",
                "find_column": "Email",
                "find_value": "{from.address}",
                "update_body": "{from.name} wrote again: {preview}",
            },
            {
                "name": "Follow-ups",
                "trigger": {"type": "email_received", "conditions": {"has_attachments": False}},
                "action": {
                    "type": "create_update",
                    "board_id": board,
                    "find": {"column": "Email", "value": "{from.address}"},
                    "body": "{from.name} wrote again: {preview}",
                },
            },
        ),
        "item_created": (
            {"name": "Tell the team", "email_to": "team@acme.example", "email_subject": "New: {name}"},
            {
                "name": "Tell the team",
                "trigger": {"type": "item_created", "board_id": board},
                "action": {"type": "send_email", "to": "team@acme.example", "subject": "New: {name}"},
            },
        ),
        "column_changed": (
            {
                "name": "Done mail",
                "column": "Status",
                "to_value": "Done",
                "email_to": "{column:Email}",
                "email_subject": "{name} is done",
                "email_body": "Your request {name} moved from {old_value} to {new_value}.",
            },
            {
                "name": "Done mail",
                "trigger": {"type": "column_changed", "board_id": board, "column": "Status", "to": "Done"},
                "action": {
                    "type": "send_email",
                    "to": "{column:Email}",
                    "subject": "{name} is done",
                    "body": "Your request {name} moved from {old_value} to {new_value}.",
                },
            },
        ),
    }


STORED = ("connection_id", "owner_id", "name", "enabled", "trigger", "action")


@pytest.mark.parametrize("kind", ["email_item", "email_update", "item_created", "column_changed"])
async def test_each_kind_made_in_the_form_is_what_the_api_stores(browser, world, admin, kind):
    typed, api_body = _cases(world)[kind]
    fields = await new_form(browser, kind, world["connection"])
    response = await submit(browser, "/recipes", filled(fields, typed))
    recipe_id = created_id(response)
    through_page = (await browser.get(f"/api/recipes/{recipe_id}")).json()

    made = await browser.post(
        "/api/recipes", json={**api_body, "connection_id": world["connection"]}, headers=bearer(admin[1])
    )
    assert made.status_code == 201, made.text
    through_api = (await browser.get(f"/api/recipes/{made.json()['id']}")).json()
    assert {k: through_page[k] for k in STORED} == {k: through_api[k] for k in STORED}

    page = await browser.get(response.headers["location"])
    assert page.status_code == 200 and "The recipe was created." in page.text


@pytest.mark.parametrize("kind", ["email_item", "email_update", "item_created", "column_changed"])
async def test_the_edit_form_holds_the_whole_recipe(browser, world, kind):
    """The recipe's page shows every part of it: sending its form back unchanged changes nothing."""
    typed, _ = _cases(world)[kind]
    recipe_id = created_id(
        await submit(browser, "/recipes", filled(await new_form(browser, kind, world["connection"]), typed))
    )
    before = (await browser.get(f"/api/recipes/{recipe_id}")).json()
    page = await browser.get(f"/recipes/{recipe_id}")
    assert page.status_code == 200
    saved = await submit(browser, f"/recipes/{recipe_id}", form_fields(page.text))
    assert saved.status_code == 303 and saved.headers["location"] == f"/recipes/{recipe_id}?done=saved"
    after = (await browser.get(f"/api/recipes/{recipe_id}")).json()
    assert {k: after[k] for k in STORED} == {k: before[k] for k in STORED}


async def test_changing_a_recipe_to_another_kind_in_its_form(browser, world):
    typed, _ = _cases(world)["email_item"]
    recipe_id = created_id(
        await submit(
            browser, "/recipes", filled(await new_form(browser, "email_item", world["connection"]), typed)
        )
    )
    page = await browser.get(f"/recipes/{recipe_id}", params={"kind": "column_changed"})
    assert (
        page.status_code == 200 and 'name="email_subject"' in page.text and 'name="folder"' not in page.text
    )
    send, _ = _cases(world)["column_changed"]
    saved = await submit(
        browser, f"/recipes/{recipe_id}", filled(form_fields(page.text), {**send, "name": "Now outgoing"})
    )
    assert saved.status_code == 303, saved.text
    after = (await browser.get(f"/api/recipes/{recipe_id}")).json()
    assert after["name"] == "Now outgoing" and after["trigger"]["type"] == "column_changed"
    assert after["action"]["to"] == "{column:Email}"


async def test_a_problem_with_the_recipes_mailbox_is_told_at_the_top_of_its_page(
    browser, engine, admin, world
):
    sends_only = await asyncio.to_thread(
        add_connection, engine, admin[0], mailbox="sender@acme.example", scopes="User.Read Mail.Send"
    )
    world = {**world, "connection": sends_only}
    recipe_id = await _made(browser, world, "item_created")
    page = await browser.get(f"/recipes/{recipe_id}", params={"kind": "email_item"})
    assert "sender@acme.example was not granted reading mail" in page.text  # no folders listed
    response = await submit(
        browser, f"/recipes/{recipe_id}", filled(form_fields(page.text), {"group": "New"})
    )
    assert response.status_code == 422
    top = response.text[response.text.index('id="form-errors"') :].split("</div>")[0]
    assert "was not granted Mail.Read" in unescape(top)
    assert (await browser.get(f"/api/recipes/{recipe_id}")).json()["trigger"]["type"] == "item_created"


async def test_the_form_offers_the_template_fields_and_only_the_users_own_choices(
    browser, world, engine, admin, stranger, member
):
    await asyncio.to_thread(add_connection, engine, stranger[0], mailbox="stranger@other.example")
    await asyncio.to_thread(add_connection, engine, member[0], mailbox="member@acme.example")
    private = await asyncio.to_thread(
        add_board, engine, member[0], {"name": "Member's private", "groups": ["New"], "columns": []}
    )
    shared = await asyncio.to_thread(
        add_board,
        engine,
        member[0],
        {"name": "Shared", "groups": ["New"], "columns": [], "visibility": "account"},
    )
    page = await browser.get("/recipes/new")
    assert "{from.address}" in page.text and "{received_at}" in page.text and "{link}" in page.text
    assert "me@acme.example" in page.text
    assert "stranger@other.example" not in page.text and "member@acme.example" not in page.text
    assert "Member&#39;s private" not in page.text and str(private.id) not in page.text
    assert f'value="{shared.id}"' in page.text  # an account board may be written to
    outgoing = await browser.get("/recipes/new", params={"kind": "column_changed"})
    assert "{old_value}" in outgoing.text and "{column:Email}" in outgoing.text
    # A monday.com board's columns are not known: the item's fields and {column:<title>} still are.
    refused = await submit(
        browser,
        "/recipes",
        filled(form_fields(outgoing.text), {"name": "m", "board": "monday", "monday_board_id": "x1"}),
    )
    assert refused.status_code == 422
    hint = refused.text[refused.text.index('id="item-fields"') :].split("</div>")[0]
    assert "{old_value}" in hint and "{column:&lt;column title&gt;}" in hint and "{column:Email}" not in hint


async def test_every_input_has_a_label(browser, world):
    for kind in ("email_item", "email_update", "item_created", "column_changed"):
        page = (await browser.get("/recipes/new", params={"kind": kind})).text
        labelled = set(re.findall(r'<label for="([^"]+)"', page))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
            if 'type="hidden"' in tag:
                continue
            found = re.search(r'\bid="([^"]+)"', tag)
            if found is None:  # a box inside its label
                assert 'type="checkbox"' in tag, tag
                continue
            assert found.group(1) in labelled, (kind, tag)
        assert "style=" not in page and "<script>" not in page


# --- problems are shown next to their field, and nothing is saved ---------------------------------


async def test_an_unknown_template_field_is_named_next_to_its_input(browser, world):
    fields = await new_form(browser, "email_item", world["connection"])
    response = await submit(
        browser, "/recipes", filled(fields, {"name": "Typo", "group": "New", "item_name": "{subjct} <now>"})
    )
    assert response.status_code == 422
    assert "unknown placeholder {subjct}" in error_next_to(response.text, "item_name")
    # What the user typed is kept (escaped).
    assert 'value="{subjct} &lt;now&gt;"' in response.text and 'value="Typo"' in response.text
    assert 'aria-describedby="item_name-error' in response.text
    assert await api_recipes(browser) == []


@pytest.mark.parametrize(
    ("kind", "typed", "field", "says"),
    [
        ("email_item", {"folder": "junkemail"}, "folder", REFUSED_FOLDERS["junkemail"]),
        ("email_item", {"group": "Nope"}, "group", "has no group 'Nope'; its groups: New, Paid"),
        ("email_item", {"from": "customer.example"}, "from", "is not a sender pattern"),
        (
            "email_item",
            {"column_title": ["Owner"], "column_template": ["{to}"]},
            "columns",
            "no column 'Owner'",
        ),
        ("email_update", {"find_column": "Owner", "find_value": "{to}"}, "find_column", "no column 'Owner'"),
        ("email_update", {"update_body": "{bdy}"}, "update_body", "unknown placeholder {bdy}"),
        ("column_changed", {"column": "Status", "to_value": "Later"}, "to_value", "has no label 'Later'"),
        (
            "item_created",
            {"email_to": "{column:Owner}", "email_subject": "s"},
            "email_to",
            "no column 'Owner'",
        ),
        ("item_created", {"email_to": "a@b.example", "email_subject": ""}, "email_subject", "at least 1"),
        ("item_created", {"board": "monday", "monday_board_id": "x1"}, "board", "not a monday.com board id"),
        ("email_item", {"name": " "}, "name", "at least 1 character"),
    ],
)
async def test_each_problem_is_told_next_to_its_field(browser, world, kind, typed, field, says):
    values = {
        "name": "Some recipe",
        "email_to": "a@b.example",
        "email_subject": "s",
        "group": "New",
        "find_column": "Email",
        "find_value": "{from.address}",
        "column": "Status",
    }
    fields = await new_form(browser, kind, world["connection"])
    values = {k: v for k, v in values.items() if k in fields.names}
    response = await submit(browser, "/recipes", filled(fields, {**values, **typed}))
    assert response.status_code == 422, response.text
    assert says in error_next_to(response.text, field)
    assert 'id="form-errors"' in response.text
    assert await api_recipes(browser) == []


async def test_sending_without_mail_send_is_refused_next_to_the_mailbox(browser, engine, admin, world):
    reads_only = await asyncio.to_thread(
        add_connection, engine, admin[0], mailbox="reader@acme.example", scopes="User.Read Mail.Read"
    )
    fields = await new_form(browser, "item_created", reads_only)
    response = await submit(
        browser, "/recipes", filled(fields, {"name": "x", "email_to": "a@b.example", "email_subject": "s"})
    )
    assert response.status_code == 422
    assert "was not granted Mail.Send" in error_next_to(response.text, "connection_id")
    assert await api_recipes(browser) == []


async def test_an_account_that_lets_only_admins_refuses_a_member_in_words(client, engine, admin, member):
    connection = await asyncio.to_thread(add_connection, engine, member[0], mailbox="member@acme.example")
    board = await asyncio.to_thread(add_board, engine, member[0], BILLING)
    await asyncio.to_thread(admins_only, engine, admin[0])
    await sign_in(client, member[1])
    page = await client.get("/recipes/new")
    assert "You cannot create recipes: only admins" in page.text and 'id="recipe-form"' not in page.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert csrf
    response = await client.post(
        "/recipes",
        data={
            "csrf_token": csrf.group(1),
            "kind": "email_item",
            "connection_id": connection,
            "name": "x",
            "board": str(board.id),
            "group": "New",
            "item_name": "{subject}",
        },
    )
    assert response.status_code == 403 and "only admins" in response.text
    assert (await client.get("/api/recipes")).json()["count"] == 0


async def test_a_connection_of_someone_else_is_not_found(browser, engine, stranger, world):
    theirs = await asyncio.to_thread(add_connection, engine, stranger[0], mailbox="stranger@other.example")
    fields = await new_form(browser, "email_item", world["connection"])
    data = [
        (n, theirs if n == "connection_id" else v) for n, v in filled(fields, {"name": "x", "group": "New"})
    ]
    response = await submit(browser, "/recipes", data)
    assert response.status_code == 404
    assert "connection not found" in error_next_to(response.text, "connection_id")
    assert theirs not in response.text and "stranger@other.example" not in response.text
    assert await api_recipes(browser) == []


# --- one recipe: someone else's, enable/disable, delete, CSRF ---------------------------------------


async def _made(browser: httpx.AsyncClient, world: dict[str, str], kind: str = "email_item") -> str:
    typed, _ = _cases(world)[kind]
    return created_id(
        await submit(browser, "/recipes", filled(await new_form(browser, kind, world["connection"]), typed))
    )


async def _csrf(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/recipes")
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found
    return found.group(1)


async def test_someone_elses_recipe_is_not_found(app, browser, world, stranger):
    recipe_id = await _made(browser, world)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        csrf = await sign_in(other, stranger[1])
        for method, path in [
            ("GET", f"/recipes/{recipe_id}"),
            ("POST", f"/recipes/{recipe_id}"),
            ("POST", f"/recipes/{recipe_id}/enable"),
            ("POST", f"/recipes/{recipe_id}/disable"),
            ("GET", f"/recipes/{recipe_id}/delete"),
            ("POST", f"/recipes/{recipe_id}/delete"),
            ("POST", f"/recipes/{recipe_id}/dry-run"),
        ]:
            data = {"csrf_token": csrf, "name": "mine now"} if method == "POST" else None
            response = await other.request(method, path, data=data)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "Invoices" not in response.text
        assert "Invoices" not in (await other.get("/recipes")).text
    stored = (await browser.get(f"/api/recipes/{recipe_id}")).json()
    assert stored["name"] == "Invoices" and stored["enabled"] is True


async def test_disable_and_enable(browser, world):
    recipe_id = await _made(browser, world)
    csrf = await _csrf(browser)
    off = await browser.post(f"/recipes/{recipe_id}/disable", data={"csrf_token": csrf})
    assert off.status_code == 303 and off.headers["location"] == f"/recipes/{recipe_id}?done=disabled"
    assert (await browser.get(f"/api/recipes/{recipe_id}")).json()["enabled"] is False
    page = await browser.get(off.headers["location"])
    assert "recipe-disabled" in page.text and 'id="enable"' in page.text and "is disabled" in page.text
    assert "disabled" in (await browser.get("/recipes")).text

    on = await browser.post(f"/recipes/{recipe_id}/enable", data={"csrf_token": csrf})
    assert on.status_code == 303 and on.headers["location"] == f"/recipes/{recipe_id}?done=enabled"
    assert (await browser.get(f"/api/recipes/{recipe_id}")).json()["enabled"] is True


async def test_enabling_when_the_account_no_longer_lets_the_user_is_refused_in_words(
    client, engine, admin, member
):
    connection = await asyncio.to_thread(add_connection, engine, member[0], mailbox="member@acme.example")
    board = str((await asyncio.to_thread(add_board, engine, member[0], BILLING)).id)
    await sign_in(client, member[1])
    recipe_id = await _made(client, {"connection": connection, "board": board})
    csrf = await _csrf(client)
    assert (await client.post(f"/recipes/{recipe_id}/disable", data={"csrf_token": csrf})).status_code == 303
    await asyncio.to_thread(admins_only, engine, admin[0])
    response = await client.post(f"/recipes/{recipe_id}/enable", data={"csrf_token": csrf})
    assert response.status_code == 403
    assert 'id="action-error"' in response.text and "only admins" in response.text
    assert (await client.get(f"/api/recipes/{recipe_id}")).json()["enabled"] is False


async def test_delete_asks_first_then_deletes(browser, world):
    recipe_id = await _made(browser, world)
    confirm = await browser.get(f"/recipes/{recipe_id}/delete")
    assert confirm.status_code == 200
    assert "Invoices" in confirm.text and "stay on their boards" in confirm.text
    assert f'action="/recipes/{recipe_id}/delete"' in confirm.text and 'name="csrf_token"' in confirm.text
    assert (await browser.get(f"/api/recipes/{recipe_id}")).status_code == 200  # asking deleted nothing

    csrf = await _csrf(browser)
    deleted = await browser.post(f"/recipes/{recipe_id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/recipes?done=deleted"
    assert (await browser.get(f"/api/recipes/{recipe_id}")).status_code == 404
    listed = await browser.get(deleted.headers["location"])
    assert "The recipe was deleted" in listed.text and "Invoices" not in listed.text


async def test_without_the_csrf_token_nothing_changes(browser, world):
    recipe_id = await _made(browser, world)
    fields = await new_form(browser, "email_item", world["connection"])
    no_token = [(n, v) for n, v in filled(fields, {"name": "Forged", "group": "New"}) if n != "csrf_token"]
    for path, data in [
        ("/recipes", no_token),
        (f"/recipes/{recipe_id}", no_token),
        (f"/recipes/{recipe_id}/disable", []),
        (f"/recipes/{recipe_id}/delete", []),
        (f"/recipes/{recipe_id}/dry-run", []),
    ]:
        response = await submit(browser, path, data)
        assert response.status_code == 403, path
        assert "CSRF token missing or wrong" in response.json()["detail"]
    recipes = await api_recipes(browser)
    assert [(r["name"], r["enabled"]) for r in recipes] == [("Invoices", True)]


def test_every_form_of_the_recipe_templates_posts_with_the_token():
    from tests.api.test_web_security import TEMPLATES

    for path in TEMPLATES.glob("recipe*.html"):
        source = path.read_text()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", source, re.S):
            if 'method="post"' in form:
                assert '<input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">' in form
            else:
                assert 'method="get"' in form and "csrf_token" not in form, path.name


# --- folders and the dry run, over a stand-in for Graph ---------------------------------------------


class Mailbox:
    """The mailbox client a MailboxAccess hands to its callers: what the folder list and dry run ask."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self.messages = list(messages)
        self.asked: list[tuple[str, int, list[str]]] = []

    async def list_folders(self) -> list[MailFolder]:
        return [
            MailFolder(id="id-inbox", display_name="Inbox"),
            MailFolder(id="id-invoices", display_name="Invoices"),
            MailFolder(id="id-junkemail", display_name="Junk Email"),
        ]

    async def resolve_well_known_folders(self, names: Sequence[str]) -> dict[str, str]:
        return {name: f"id-{name}" for name in names}

    async def recent_messages(
        self, folder: str, top: int, select: Sequence[str], *, body_text: bool = False
    ) -> list[Message]:
        self.asked.append((folder, top, list(select)))
        return self.messages[:top]


class Access:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def call(self, connection_id: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        return await fn(self.mailbox)


class Unreachable:
    async def call(self, connection_id: str, fn: Any) -> Any:
        raise GraphUnavailable("stand-in", 503)


def _message(n: int, sender: str, subject: str) -> Message:
    return Message(
        id=f"AAMk-{n}",
        subject=subject,
        from_=Recipient(email_address=EmailAddress(name="Cara", address=sender)),
        received_date_time=datetime(2026, 12, 1, 9, n, tzinfo=UTC),
        body_preview="Please pay",
        internet_message_headers=[],
    )


async def test_the_folder_list_offers_the_mailboxs_folders_but_never_a_refused_one(app, browser, world):
    app.state.mailbox_access = Access(Mailbox([]))
    page = await browser.get("/recipes/new", params={"connection_id": world["connection"]})
    assert '<option value="id-invoices">Invoices</option>' in page.text
    assert "id-junkemail" not in page.text and "Junk Email" not in page.text
    fields = form_fields(page.text)
    recipe_id = created_id(
        await submit(
            browser, "/recipes", filled(fields, {"name": "x", "group": "New", "folder": "id-invoices"})
        )
    )
    assert (await browser.get(f"/api/recipes/{recipe_id}")).json()["trigger"]["folder"] == "id-invoices"

    app.state.mailbox_access = Unreachable()
    page = await browser.get(f"/recipes/{recipe_id}")
    assert page.status_code == 200
    assert "folders could not be listed" in page.text and "unreachable" in page.text
    # The recipe's folder is still the one chosen.
    assert 'value="id-invoices" selected' in page.text


async def test_the_dry_run_shows_what_would_happen(app, browser, world):
    mailbox = Mailbox(
        [
            _message(1, "cara@customer.example", "Invoice 42"),
            _message(2, "someone@else.example", "Lunch"),
        ]
    )
    app.state.mailbox_access = Access(mailbox)
    fields = await new_form(browser, "email_item", world["connection"])
    typed: dict[str, str | list[str]] = {
        "name": "Invoices",
        "from": "*@customer.example",
        "subject_contains": "invoice",
        "group": "New",
        "item_name": "[{from.name}] {subject}",
        "column_title": ["Email"],
        "column_template": ["{from.address}"],
    }
    recipe_id = created_id(await submit(browser, "/recipes", filled(fields, typed)))
    csrf = await _csrf(browser)
    response = await browser.post(f"/recipes/{recipe_id}/dry-run", data={"csrf_token": csrf, "limit": "5"})
    assert response.status_code == 200, response.text
    table = response.text[response.text.index('id="dry-run-results"') :].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert "Invoice 42" in rows[0] and ">yes<" in rows[0] and "item &#39;[Cara] Invoice 42&#39;" in rows[0]
    assert "Lunch" in rows[1] and ">no<" in rows[1] and "condition from not met" in rows[1]
    assert mailbox.asked[0][:2] == ("inbox", 5)
    assert (await browser.get(f"/api/recipes/{recipe_id}")).json()["enabled"] is True


async def test_an_unreachable_graph_is_told_in_words_not_a_500(app, browser, world):
    recipe_id = await _made(browser, world)
    csrf = await _csrf(browser)
    # No Microsoft at all (an app without the lifespan's MailboxAccess), then one that does not answer.
    response = await browser.post(f"/recipes/{recipe_id}/dry-run", data={"csrf_token": csrf})
    assert response.status_code == 503 and "could not run" in response.text
    app.state.mailbox_access = Unreachable()
    response = await browser.post(f"/recipes/{recipe_id}/dry-run", data={"csrf_token": csrf})
    assert response.status_code == 503
    assert "Microsoft Graph or the token store is busy or unreachable" in error_box(response.text)


async def test_an_outgoing_recipe_has_no_dry_run_button(app, browser, world):
    app.state.mailbox_access = Access(Mailbox([]))
    recipe_id = await _made(browser, world, "column_changed")
    page = await browser.get(f"/recipes/{recipe_id}")
    assert 'id="run-dry-run"' not in page.text and "sends email when something happens" in page.text
    csrf = await _csrf(browser)
    response = await browser.post(f"/recipes/{recipe_id}/dry-run", data={"csrf_token": csrf})
    assert response.status_code == 422 and "dry runs are for incoming recipes" in error_box(response.text)


def error_box(html: str) -> str:
    match = re.search(r'<div class="notice problem" role="alert" id="dry-run-error"><p>(.*?)</p>', html, re.S)
    assert match, "no dry-run error on the page"
    return unescape(match.group(1))
