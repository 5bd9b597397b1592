"""Who may create integrations (issue 12): the account setting (members read it, admins set it, listed
users must be users of the account), and its enforcement on connecting, reconnecting and saving a recipe,
with a 403 that says who may; what exists keeps running, and the pages say why the buttons are gone."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from accounts import service
from db.accounts import User
from db.audit import AuditEntry
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.recipes.support import add_board, add_connection, recipe_body

ADMINS_ONLY = "only admins of this account may create integrations; ask an admin"
LISTED_ONLY = (
    "only admins and the users an admin listed may create integrations in this account; "
    "ask an admin to add you"
)


@pytest.fixture
def member2(engine, admin):
    with session_scope(engine) as session:
        account = session.get_one(User, admin[0]).account
        user = service.create_user(
            session, account, email="two@acme.example", display_name="2", role="member"
        )
        return user.id, service.issue_api_token(session, user, "test").plain


async def _put(client: httpx.AsyncClient, who: tuple[Any, str], setting: Any) -> httpx.Response:
    return await client.put(
        "/api/account/permissions", json={"create_integrations": setting}, headers=bearer(who[1])
    )


async def test_default_is_everyone_and_members_read_it(client, member):
    response = await client.get("/api/account/permissions", headers=bearer(member[1]))
    assert response.status_code == 200
    assert response.json() == {"create_integrations": "everyone"}


async def test_only_admins_set_it(client, admin, member, engine):
    refused = await _put(client, member, "admins")
    assert refused.status_code == 403 and refused.json()["detail"] == "admin role required"
    assert (await client.get("/api/account/permissions", headers=bearer(member[1]))).json() == {
        "create_integrations": "everyone"
    }
    for setting in ("admins", {"users": [str(member[0])]}, "everyone"):
        saved = await _put(client, admin, setting)
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"create_integrations": setting}
        read = await client.get("/api/account/permissions", headers=bearer(member[1]))
        assert read.json() == {"create_integrations": setting}
    # Each change is in the audit log, naming the before and after.
    with session_scope(engine) as session:
        details = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.kind == "permission_change").order_by(AuditEntry.id)
        ).all()
    assert details == [
        "create_integrations: everyone -> admins",
        f"create_integrations: admins -> users {member[0]}",
        f"create_integrations: users {member[0]} -> everyone",
    ]


async def test_unknown_and_foreign_users_are_422_naming_them(client, admin, member, stranger):
    unknown = uuid.uuid4()
    response = await _put(client, admin, {"users": [str(member[0]), str(unknown), str(stranger[0])]})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "create_integrations", "users"]
    assert str(unknown) in problem["msg"] and str(stranger[0]) in problem["msg"]
    assert str(member[0]) not in problem["msg"]
    # Nothing changed.
    read = await client.get("/api/account/permissions", headers=bearer(admin[1]))
    assert read.json() == {"create_integrations": "everyone"}


@pytest.mark.parametrize(
    "setting", ["nobody", {"users": ["not-a-uuid"]}, {"people": []}, {"users": [], "extra": 1}, None]
)
async def test_malformed_settings_are_422(client, admin, setting):
    assert (await _put(client, admin, setting)).status_code == 422


async def test_saving_a_recipe_follows_the_setting(client, admin, member, member2, engine):
    connection = add_connection(engine, member[0], mailbox="m@acme.example")
    board = str(add_board(engine, member[0]).id)
    body = recipe_body(connection, board)
    made = await client.post("/api/recipes", json=body, headers=bearer(member[1]))
    assert made.status_code == 201, made.text
    path = f"/api/recipes/{made.json()['id']}"

    assert (await _put(client, admin, "admins")).status_code == 200
    refused = await client.post("/api/recipes", json=body, headers=bearer(member[1]))
    assert refused.status_code == 403 and refused.json() == {"detail": ADMINS_ONLY}
    changed_action = {**body["action"], "item_name": "[{from.name}] {subject}"}
    refused = await client.patch(path, json={"action": changed_action}, headers=bearer(member[1]))
    assert refused.status_code == 403 and refused.json() == {"detail": ADMINS_ONLY}
    # The existing recipe keeps running; its owner may still turn it off (and rename it), not back on.
    assert (await client.get(path, headers=bearer(member[1]))).json()["enabled"] is True
    off = await client.patch(path, json={"enabled": False, "name": "Paused"}, headers=bearer(member[1]))
    assert off.status_code == 200 and off.json()["enabled"] is False
    on = await client.patch(path, json={"enabled": True}, headers=bearer(member[1]))
    assert on.status_code == 403 and on.json() == {"detail": ADMINS_ONLY}

    # Listed users may; others are told the list decides.
    assert (await _put(client, admin, {"users": [str(member[0])]})).status_code == 200
    assert (await client.patch(path, json={"enabled": True}, headers=bearer(member[1]))).status_code == 200
    connection2 = add_connection(engine, member2[0], mailbox="two@acme.example")
    board2 = str(add_board(engine, member2[0]).id)
    refused = await client.post(
        "/api/recipes", json=recipe_body(connection2, board2), headers=bearer(member2[1])
    )
    assert refused.status_code == 403 and refused.json() == {"detail": LISTED_ONLY}

    # Admins always may, listed or not.
    admin_connection = add_connection(engine, admin[0], mailbox="boss@acme.example")
    admin_board = str(add_board(engine, admin[0]).id)
    made = await client.post(
        "/api/recipes", json=recipe_body(admin_connection, admin_board), headers=bearer(admin[1])
    )
    assert made.status_code == 201, made.text


class Unused:
    """What the lifespan would put on app.state for Microsoft, Vault and Temporal: never used here."""

    namespace = "default"

    def __getattr__(self, name: str):
        raise AssertionError(f"{name} used although the user may not (re)connect")


async def test_a_refused_user_still_gets_404_for_what_is_not_theirs(
    app, client, admin, member, member2, engine
):
    """The permission is checked after ownership where a resource is named: no existence leaks."""
    app.state.identity = app.state.token_store = app.state.temporal_client = Unused()
    connection = add_connection(engine, member2[0], mailbox="two@acme.example")
    assert (await _put(client, admin, "admins")).status_code == 200
    response = await client.post(f"/api/connections/{connection}/reconnect", headers=bearer(member[1]))
    assert response.status_code == 404


async def test_reconnect_is_refused_before_microsoft_is_asked(app, client, admin, member, engine):
    app.state.identity = app.state.token_store = app.state.temporal_client = Unused()
    connection = add_connection(engine, member[0], mailbox="m@acme.example")
    assert (await _put(client, admin, "admins")).status_code == 200
    response = await client.post(f"/api/connections/{connection}/reconnect", headers=bearer(member[1]))
    assert response.status_code == 403 and response.json() == {"detail": ADMINS_ONLY}
    page = await client.post(f"/connections/{connection}/reconnect", headers=bearer(member[1]))
    assert page.status_code == 403 and ADMINS_ONLY in page.text
    # Connecting a new mailbox: the page says why, with 403.
    connect = await client.post("/connect/outlook", data={"scope": "incoming"}, headers=bearer(member[1]))
    assert connect.status_code == 403 and ADMINS_ONLY in connect.text
    # And the callback (the setting may have narrowed while the user was at Microsoft).
    callback = await client.get(
        "/oauth/callback", params={"code": "x", "state": "y"}, headers=bearer(member[1])
    )
    assert callback.status_code == 403 and ADMINS_ONLY in callback.text


async def test_the_pages_hide_connect_and_reconnect_and_say_why(app, client, admin, member, engine):
    app.state.temporal_client = Unused()
    connection = add_connection(engine, member[0], mailbox="m@acme.example")
    page = await client.get("/connections", headers=bearer(member[1]))
    assert page.status_code == 200
    assert 'id="connect"' in page.text and 'id="connect-refused"' not in page.text
    one = await client.get(f"/connections/{connection}", headers=bearer(member[1]))
    assert 'id="reconnect"' in one.text and "reconnect-refused" not in one.text

    assert (await _put(client, admin, "admins")).status_code == 200
    page = await client.get("/connections", headers=bearer(member[1]))
    assert page.status_code == 200
    assert 'id="connect"' not in page.text and "/connect/outlook" not in page.text
    assert 'id="connect-refused"' in page.text and ADMINS_ONLY in page.text
    # The existing connection is still listed and keeps its status.
    assert "m@acme.example" in page.text and "status-active" in page.text
    one = await client.get(f"/connections/{connection}", headers=bearer(member[1]))
    assert 'id="reconnect"' not in one.text and 'id="reconnect-refused"' in one.text
    assert 'id="disconnect"' in one.text  # leaving is always allowed
    # An admin still sees the button.
    admin_page = await client.get("/connections", headers=bearer(admin[1]))
    assert 'id="connect"' in admin_page.text and "connect-refused" not in admin_page.text


async def test_admins_see_every_connections_status_but_no_token(client, admin, member, stranger, engine):
    mine = add_connection(engine, member[0], mailbox="m@acme.example", status="revoked")
    theirs = add_connection(engine, stranger[0], mailbox="x@other.example")
    response = await client.get("/api/account/connections", headers=bearer(admin[1]))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and [c["id"] for c in body["data"]] == [mine]
    [row] = body["data"]
    assert (row["mailbox"], row["status"], row["owner_id"]) == ("m@acme.example", "revoked", str(member[0]))
    assert theirs not in response.text
    assert not {k for k in row if "token" in k or "secret" in k or "state" in k.replace("status", "")}
    refused = await client.get("/api/account/connections", headers=bearer(member[1]))
    assert refused.status_code == 403
