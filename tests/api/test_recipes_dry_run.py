"""Folders and dry runs through the API, against the real emulator and OpenBao: a mailbox connected by
the real consent (tests/activities/support.py's World), the API's routes over the same MailboxAccess the
worker uses. A dry run reads (GETs only, only the recipe's fields) and writes nothing anywhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from accounts.service import issue_api_token
from activities.folders import AllowedFolders
from api.main import create_app
from db.accounts import User
from db.activity_log import MessageOutcome
from db.boards import BoardItem, ItemUpdate, LedgerEntry
from db.connections import Connection
from db.engine import session_scope
from db.recipes import RecipeRow
from payloads.messages import ItemRequest, MessageInput
from recipes.fields import graph_fields_for
from recipes.store import add_recipe, to_recipe
from tests.activities.conftest import activity_engine, activity_settings, world  # noqa: F401
from tests.activities.support import Mailbox, World
from tests.api.conftest import bearer

pytestmark = pytest.mark.asyncio


async def _token(w: World, mailbox: Mailbox) -> str:
    def issue() -> str:
        with session_scope(w.engine) as session:
            return issue_api_token(session, session.get_one(User, mailbox.owner_id), "test").plain

    return await asyncio.to_thread(issue)


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    app = create_app(world.settings)
    app.state.engine = world.engine
    app.state.mailbox_access = world.access
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def _folder(w: World, mailbox: Mailbox, name: str) -> str:
    async with w.control() as c:
        r = await c.post(f"/users/{mailbox.email}/folders", json={"display_name": name})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def _recipe(w: World, mailbox: Mailbox, spec: dict[str, Any]) -> str:
    from recipes.model import RecipeSpec

    with session_scope(w.engine) as session:
        row = add_recipe(
            session,
            connection_id=uuid.UUID(mailbox.connection_id),
            owner_id=mailbox.owner_id,
            name="test",
            enabled=True,
            spec=RecipeSpec.model_validate(spec),
        )
        return str(row.id)


def _counts(w: World) -> tuple[int, ...]:
    with session_scope(w.engine) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (BoardItem, ItemUpdate, LedgerEntry, MessageOutcome)
        )


async def test_folders_are_the_ones_a_recipe_may_watch(world: World, api: httpx.AsyncClient):  # noqa: F811
    mailbox = await world.connect()
    token = await _token(world, mailbox)
    invoices = await _folder(world, mailbox, "Invoices")
    response = await api.get(f"/api/connections/{mailbox.connection_id}/folders", headers=bearer(token))
    assert response.status_code == 200, response.text
    listed = response.json()
    names = {f["display_name"]: f["id"] for f in listed["data"]}
    assert names["Invoices"] == invoices and "Inbox" in names
    assert not {"Junk Email", "Deleted Items", "Sent Items", "Drafts", "Outbox"} & set(names)
    assert listed["count"] == len(listed["data"])
    requests = await world.graph_requests(mailbox)
    assert {r["method"] for r in requests} == {"GET"}
    [listing] = [r for r in requests if r["path"].lower().endswith("/mailfolders")]
    assert "displayName" in str(listing["query"]) and "body" not in str(listing["query"])

    # Another user's connection is not found.
    other = await world.connect()
    response = await api.get(f"/api/connections/{other.connection_id}/folders", headers=bearer(token))
    assert response.status_code == 404


async def test_dry_run_evaluates_and_changes_nothing(world: World, api: httpx.AsyncClient):  # noqa: F811
    mailbox = await world.connect()
    token = await _token(world, mailbox)
    board_id = await asyncio.to_thread(world.add_board, mailbox)
    recipe_id = await asyncio.to_thread(
        world.add_recipe, mailbox, board_id, columns={"From": "{from.address}"}
    )
    first = await world.deliver(mailbox, subject="Need help with my order")
    stranger = await world.deliver(mailbox, subject="Help me", **{"from": "x@elsewhere.example"})
    thanks = await world.deliver(mailbox, subject="Thanks a lot")
    before = await asyncio.to_thread(_counts, world)
    async with world.control() as c:
        await c.delete("/requests")

    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={"limit": 20}, headers=bearer(token))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["count"] == 3
    by_id = {r["message_id"]: r for r in answer["data"]}
    assert [r["message_id"] for r in answer["data"]] == [thanks, stranger, first]  # newest first
    assert by_id[first]["matched"] is True and by_id[first]["subject"] == "Need help with my order"
    made = by_id[first]["would_create"]
    assert made["kind"] == "item" and made["name"] == "Need help with my order" and made["group"] == "New"
    assert made["columns"] == {"From": "grace@customer.example"}
    assert by_id[stranger] | {"would_create": None} == {
        "message_id": stranger,
        "subject": "Help me",
        "matched": False,
        "reason": "condition from not met",
        "would_create": None,
    }
    assert (
        by_id[thanks]["matched"] is False and by_id[thanks]["reason"] == "condition subject_contains not met"
    )

    # Nothing created, sent or recorded; Graph saw GETs only, asking for the recipe's fields alone.
    assert await asyncio.to_thread(_counts, world) == before
    requests = await world.graph_requests(mailbox)
    assert requests and {r["method"] for r in requests} == {"GET"}
    with session_scope(world.engine) as session:
        recipe = to_recipe(session.get_one(RecipeRow, uuid.UUID(recipe_id)))
    [listing] = [r for r in requests if r["path"].lower().endswith("/messages")]
    assert sorted(listing["select"]) == graph_fields_for([recipe])
    assert "body" not in listing["select"] or recipe.action.type == "create_item"

    # A smaller limit; the bounds.
    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={"limit": 1}, headers=bearer(token))
    assert [r["message_id"] for r in response.json()["data"]] == [thanks]
    for limit in (0, 51):
        response = await api.post(
            f"/api/recipes/{recipe_id}/dry-run", json={"limit": limit}, headers=bearer(token)
        )
        assert response.status_code == 422, response.text


async def test_dry_run_in_a_custom_folder(world: World, api: httpx.AsyncClient):  # noqa: F811
    mailbox = await world.connect()
    token = await _token(world, mailbox)
    invoices = await _folder(world, mailbox, "Invoices")
    board_id = await asyncio.to_thread(world.add_board, mailbox)
    spec = {
        "trigger": {"type": "email_received", "folder": invoices, "conditions": {"importance": ["high"]}},
        "action": {"type": "create_item", "board_id": board_id, "group": "New", "replies": "item"},
    }
    recipe_id = await asyncio.to_thread(_recipe, world, mailbox, spec)
    await world.deliver(mailbox, subject="in the inbox", importance="high")
    urgent = await world.deliver(mailbox, folder=invoices, subject="Invoice 7", importance="high")
    await world.deliver(mailbox, folder=invoices, subject="Invoice 8", importance="low")
    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={}, headers=bearer(token))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(r["subject"], r["matched"]) for r in data] == [("Invoice 8", False), ("Invoice 7", True)]
    assert data[1]["message_id"] == urgent and data[0]["reason"] == "condition importance not met"
    [listing] = [r for r in await world.graph_requests(mailbox) if r["path"].lower().endswith("/messages")]
    assert sorted(listing["select"]) == ["importance", "internetMessageHeaders", "subject"]

    # The folder check allows the watched folder (and the inbox), never a refused one named by its id.
    folders = AllowedFolders(world.access, world.engine)
    ids = await folders.ids(mailbox.connection_id)
    assert invoices in ids and await folders.inbox(mailbox.connection_id) in ids
    junk = (await world.access.call(mailbox.connection_id, lambda m: m.get_folder("junkemail"))).id
    trigger = spec["trigger"]
    assert isinstance(trigger, dict)
    junk_spec = {**spec, "trigger": {**trigger, "folder": junk}}
    junk_recipe = await asyncio.to_thread(_recipe, world, mailbox, junk_spec)
    assert junk not in await AllowedFolders(world.access, world.engine).ids(mailbox.connection_id)
    assert len(await AllowedFolders(world.access).ids(mailbox.connection_id)) == 1  # without recipes: inbox
    response = await api.post(f"/api/recipes/{junk_recipe}/dry-run", json={}, headers=bearer(token))
    assert response.status_code == 422 and "junkemail, which is never read" in response.json()["detail"]


async def test_dry_run_refusals(world: World, api: httpx.AsyncClient):  # noqa: F811
    mailbox = await world.connect(choices=("incoming", "outgoing"))
    token = await _token(world, mailbox)
    board_id = await asyncio.to_thread(world.add_board, mailbox)
    outgoing = {
        "trigger": {"type": "item_created", "board_id": board_id},
        "action": {"type": "send_email", "to": "a@b.example", "subject": "{name}"},
    }
    send_id = await asyncio.to_thread(_recipe, world, mailbox, outgoing)
    response = await api.post(f"/api/recipes/{send_id}/dry-run", json={}, headers=bearer(token))
    assert response.status_code == 422 and "dry runs are for incoming recipes" in response.json()["detail"]

    recipe_id = await asyncio.to_thread(world.add_recipe, mailbox, board_id)
    assert (
        await api.post(f"/api/recipes/{uuid.uuid4()}/dry-run", json={}, headers=bearer(token))
    ).status_code == 404

    # Revoked at Microsoft while the row still says active: once the access token is rejected, the
    # refresh fails (invalid_grant), 409. (Access tokens outlive a revocation: one that Graph refuses
    # stands in for an expired one.)
    await world.revoke(mailbox, "consent_revoked")
    stored = await world.tokens.load(mailbox.connection_id)
    rejected = stored.model_copy(update={"access_token": SecretStr("not-a-token")})
    assert await world.tokens.save(mailbox.connection_id, rejected)
    world.access.forget(mailbox.connection_id)
    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={}, headers=bearer(token))
    assert response.status_code == 409, response.text
    assert "reconnect" in response.json()["detail"]

    # Known revoked: 409 before any Graph call.
    def mark_revoked() -> None:
        with session_scope(world.engine) as session:
            session.get_one(Connection, uuid.UUID(mailbox.connection_id)).status = "revoked"

    await asyncio.to_thread(mark_revoked)
    async with world.control() as c:
        await c.delete("/requests")
    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={}, headers=bearer(token))
    assert response.status_code == 409 and "is revoked" in response.json()["detail"]
    assert await world.graph_requests(mailbox) == []


async def test_dry_run_of_a_message_already_processed_says_so(world: World, api: httpx.AsyncClient):  # noqa: F811
    mailbox = await world.connect()
    token = await _token(world, mailbox)
    board_id = await asyncio.to_thread(world.add_board, mailbox)
    recipe_id = await asyncio.to_thread(world.add_recipe, mailbox, board_id)
    message_id = await world.deliver(mailbox)
    fetched = await ActivityEnvironment().run(
        world.steps.fetch_message, MessageInput(connection_id=mailbox.connection_id, message_id=message_id)
    )
    assert fetched.email is not None
    request = ItemRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=fetched.email
    )
    await ActivityEnvironment().run(world.writes.create_item, request)

    response = await api.post(f"/api/recipes/{recipe_id}/dry-run", json={"limit": 5}, headers=bearer(token))

    assert response.status_code == 200, response.text
    [result] = response.json()["data"]
    assert result["matched"] is True and result["would_create"] is None
    assert result["reason"].startswith("already processed: this recipe made its item of this message")
