"""The connection pages (issues 12 and 13): starting a consent is a POST that a cookie request makes only
with the page's CSRF token, so another site cannot start one in the user's name and a GET writes
nothing; the list and the connection page say status, reason, permissions and health in words; and
Disconnect leads to a page that says what it deletes before anything is deleted."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from db.connections import Connection, OAuthFlow
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.recipes.support import add_board, add_connection, add_enabled_recipe, recipe_body

CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]{64})">')
AUTHORIZE = "https://login.example/authorize"


class Identity:
    """Microsoft's sign-in as far as starting a consent goes: records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def initiate_auth_code_flow(self, scopes: list[str], redirect_uri: str, **_: Any) -> dict[str, Any]:
        self.asked.append(scopes)
        return {"state": uuid.uuid4().hex, "auth_uri": AUTHORIZE}


class Flows:
    """Vault's part of keeping a sign-in (TokenStore.seal_flow, tested against OpenBao elsewhere)."""

    async def seal_flow(self, user_id: str, flow_json: str) -> str:
        return "vault:v1:" + uuid.uuid4().hex


class Temporal:
    """The Temporal client as far as the pages use it: the namespace, and the disconnect's start."""

    namespace = "default"

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        self.started.append(kwargs)


@pytest.fixture
def identity(app) -> Identity:
    stand_in = Identity()
    app.state.identity = stand_in
    app.state.token_store = Flows()
    app.state.temporal_client = Temporal()
    return stand_in


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    """Signs in with the cookie; returns the CSRF token the connections page carries."""
    assert (await client.post("/signin", data={"token": token})).status_code == 303
    page = await client.get("/connections")
    match = CSRF_META.search(page.text)
    assert match, "the page carries the session's CSRF token"
    return match.group(1)


def add_recipe(engine: Engine, user_id: Any, connection_id: str, name: str) -> None:
    board = add_board(engine, user_id)
    with session_scope(engine) as session:
        add_enabled_recipe(session, user_id, recipe_body(connection_id, str(board.id)) | {"name": name})


def flow_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(OAuthFlow)) or 0


async def flows(engine: Engine) -> int:
    return await asyncio.to_thread(flow_count, engine)


async def connection(engine: Engine, user_id: Any, **values: Any) -> str:
    """A connection row of the user, with `values` set on it (status_reason, subscription times...)."""
    scopes = values.pop("scopes", "User.Read Mail.Read openid profile offline_access")
    status = values.pop("status", "active")
    mailbox = values.pop("mailbox", "ada@contoso.test")
    connection_id = await asyncio.to_thread(
        add_connection, engine, user_id, mailbox=mailbox, scopes=scopes, status=status
    )

    def update() -> None:
        with session_scope(engine) as session:
            row = session.get_one(Connection, uuid.UUID(connection_id))
            for name, value in values.items():
                setattr(row, name, value)

    await asyncio.to_thread(update)
    return connection_id


# --- issue 12: a consent starts only by a POST from our own page ------------------------------------


async def test_the_form_post_with_the_token_starts_the_consent(client, admin, engine, identity):
    csrf = await sign_in(client, admin[1])
    started = await client.post(
        "/connect/outlook", data={"csrf_token": csrf, "scope": ["incoming", "outgoing"]}
    )
    assert started.status_code == 303, started.text
    assert started.headers["location"] == AUTHORIZE
    assert identity.asked == [["User.Read", "Mail.Read", "Mail.Send"]]
    assert await flows(engine) == 1


async def test_a_cross_site_post_without_the_token_is_refused_and_writes_nothing(
    client, admin, engine, identity
):
    await sign_in(client, admin[1])
    # What another site's auto-submitting form makes the signed-in browser send: the cookie, no token.
    forged = await client.post(
        "/connect/outlook",
        data={"scope": "incoming"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = await client.post("/connect/outlook", data={"scope": "incoming", "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    assert identity.asked == [] and await flows(engine) == 0


async def test_the_get_only_sends_to_the_connections_page(app, client, admin, engine, identity):
    await sign_in(client, admin[1])
    for params in ({}, {"scopes": "incoming,outgoing"}):
        response = await client.get("/connect/outlook", params=params, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/connections"
    # Signed out too: the same harmless redirect.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
        response = await anonymous.get("/connect/outlook", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/connections"
    assert identity.asked == [] and await flows(engine) == 0


async def test_nothing_chosen_is_refused_with_a_page_that_says_so(client, admin, engine, identity):
    csrf = await sign_in(client, admin[1])
    response = await client.post("/connect/outlook", data={"csrf_token": csrf})
    assert response.status_code == 400
    assert (
        "Mailbox not connected" in response.text and "read incoming mail, send mail or both" in response.text
    )
    unknown = await client.post("/connect/outlook", data={"csrf_token": csrf, "scope": "calendar"})
    assert unknown.status_code == 400 and "incoming, outgoing" in unknown.text
    assert identity.asked == [] and await flows(engine) == 0


async def test_bearer_requests_need_no_token(client, admin, engine, identity):
    started = await client.post("/connect/outlook", data={"scopes": "outgoing"}, headers=bearer(admin[1]))
    assert started.status_code == 303, started.text
    assert identity.asked == [["User.Read", "Mail.Send"]]


async def test_reconnect_is_a_post_with_the_token(client, admin, engine, identity):
    connection_id = await connection(engine, admin[0], status="revoked", status_reason="consent revoked")
    csrf = await sign_in(client, admin[1])
    assert (await client.get(f"/connections/{connection_id}/reconnect")).status_code == 405
    forged = await client.post(f"/connections/{connection_id}/reconnect")
    assert forged.status_code == 403
    assert identity.asked == [] and await flows(engine) == 0

    page = await client.get(f"/connections/{connection_id}")
    assert f'action="/connections/{connection_id}/reconnect"' in page.text
    started = await client.post(f"/connections/{connection_id}/reconnect", data={"csrf_token": csrf})
    assert started.status_code == 303 and started.headers["location"] == AUTHORIZE
    # The same permissions as granted before (MSAL adds the OpenID ones itself).
    assert identity.asked == [["User.Read", "Mail.Read"]]
    assert await flows(engine) == 1


async def test_a_disconnected_connection_is_not_reconnected(client, admin, engine, identity):
    connection_id = await connection(engine, admin[0], status="disconnected")
    csrf = await sign_in(client, admin[1])
    response = await client.post(f"/connections/{connection_id}/reconnect", data={"csrf_token": csrf})
    assert response.status_code == 409 and "cannot be reconnected" in response.text
    assert await flows(engine) == 0


# --- issue 13: the pages ------------------------------------------------------------------------------


async def test_the_empty_list_says_what_to_do(client, admin, identity):
    await sign_in(client, admin[1])
    page = await client.get("/connections")
    assert page.status_code == 200
    assert "No mailbox is connected yet. Connect one below" in page.text
    # The connect form: a POST with the token, a label for every choice, in words.
    form = page.text[page.text.index('<form method="post" action="/connect/outlook"') :].split("</form>")[0]
    assert 'name="csrf_token"' in form
    for choice, words in (
        ("incoming", "Read incoming mail (Mail.Read)"),
        ("outgoing", "Send mail (Mail.Send)"),
    ):
        assert f'id="scope-{choice}" name="scope" value="{choice}"' in form
        assert f'<label for="scope-{choice}">{words}</label>' in form
    assert "<script" not in page.text and "style=" not in page.text


async def test_the_list_shows_badges_reasons_and_permissions_in_words(client, admin, engine, identity):
    await connection(engine, admin[0], mailbox="on@contoso.test", scopes="User.Read Mail.Read Mail.Send")
    await connection(
        engine, admin[0], mailbox="off@contoso.test", status="revoked", status_reason="MFA is now required"
    )
    await sign_in(client, admin[1])
    page = (await client.get("/connections")).text
    assert '<span class="badge status-active">active</span>' in page
    assert '<span class="badge status-revoked">revoked</span>' in page and "MFA is now required" in page
    assert "Read incoming mail, Send mail" in page
    assert "Mail.Read Mail.Send" not in page and "offline_access" not in page
    assert "No mailbox is connected yet" not in page


async def test_the_connection_page_shows_health_in_words(client, admin, engine, identity):
    now = datetime.now(UTC)
    connection_id = await connection(
        engine,
        admin[0],
        scopes="https://graph.microsoft.com/Mail.Read User.Read openid",
        subscription_expires_at=now + timedelta(days=2, minutes=1),
        last_notification_at=now - timedelta(minutes=5),
    )
    await sign_in(client, admin[1])
    page = (await client.get(f"/connections/{connection_id}")).text
    assert '<span id="status" class="badge status-active">active</span>' in page
    permissions = page[page.index('id="permissions"') :].split("</dd>")[0]
    assert "Read incoming mail" in permissions and "Mail.Read" not in permissions
    assert "openid" not in permissions
    subscription = page[page.index('id="subscription"') :].split("</dd>")[0]
    assert "in 2 days" in subscription and 'title="' in subscription and "UTC" in subscription
    assert "5 minutes ago" in page[page.index('id="last-notification"') :].split("</dd>")[0]
    assert f'href="/connections/{connection_id}/activity"' in page
    # Reconnect is a form; Disconnect leads to the confirmation page, it deletes nothing itself.
    assert f'href="/connections/{connection_id}/disconnect" id="disconnect"' in page
    assert f'action="/connections/{connection_id}/disconnect"' not in page
    assert "<script" not in page and "style=" not in page
    # Nothing secret: no token field of any kind is on the page.
    assert "access_token" not in page and "refresh_token" not in page


async def test_a_revoked_connection_shows_its_reason_and_a_send_only_one_has_no_subscription(
    client, admin, engine, identity
):
    revoked = await connection(engine, admin[0], status="revoked", status_reason="the user revoked consent")
    sender = await connection(engine, admin[0], mailbox="out@contoso.test", scopes="User.Read Mail.Send")
    await sign_in(client, admin[1])
    page = (await client.get(f"/connections/{revoked}")).text
    assert '<span id="reason">the user revoked consent</span>' in page
    assert "reconnect to grant it again" in page and 'id="reconnect"' in page
    page = (await client.get(f"/connections/{sender}")).text
    assert "only sends mail" in page and "Send mail" in page


async def test_disconnect_asks_first_and_says_what_is_deleted(client, admin, engine, identity, app):
    connection_id = await connection(engine, admin[0])
    await asyncio.to_thread(add_recipe, engine, admin[0], connection_id, "Support mail from customers")
    csrf = await sign_in(client, admin[1])

    confirm = await client.get(f"/connections/{connection_id}/disconnect")
    assert confirm.status_code == 200
    assert (
        "This deletes the Graph subscription and every stored token of <strong>ada@contoso.test</strong>; "
        "items already made stay on your boards. Recipes using it stop."
    ) in confirm.text
    assert "<li>Support mail from customers</li>" in confirm.text
    assert app.state.temporal_client.started == [], "showing the page disconnected nothing"
    form = confirm.text[confirm.text.index(f'action="/connections/{connection_id}/disconnect"') :]
    assert 'name="csrf_token"' in form.split("</form>")[0]

    # Without the token the post is refused; with it the workflow is asked to disconnect.
    assert (await client.post(f"/connections/{connection_id}/disconnect")).status_code == 403
    done = await client.post(
        f"/connections/{connection_id}/disconnect", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/connections/{connection_id}"
    [started] = app.state.temporal_client.started
    assert started["id"] == f"connection/{connection_id}" and started["start_signal"] == "disconnect"


async def test_the_confirmation_is_the_owners_only(client, admin, member, engine, identity):
    theirs = await connection(engine, member[0])
    await sign_in(client, admin[1])
    assert (await client.get(f"/connections/{theirs}/disconnect")).status_code == 404
    gone = await connection(engine, admin[0], mailbox="gone@contoso.test", status="disconnected")
    page = await client.get(f"/connections/{gone}/disconnect", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/connections/{gone}"


async def test_the_home_page_says_what_to_do_next(client, admin):
    await sign_in(client, admin[1])
    home = (await client.get("/")).text
    for link in ('href="/connections"', 'href="/boards"', 'href="/recipes"', 'href="/docs"'):
        assert link in home, link
    assert home.index("Connect a mailbox") < home.index("Create a board") < home.index("Create a recipe")
    assert "Temporal UI" in home
