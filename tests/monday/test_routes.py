"""PUT/GET/DELETE /api/monday: admins only, the token verified by monday.com (the fake), only in Vault."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import httpx
import hvac
import pytest

from api.main import create_app
from boards.monday.token_store import token_path
from db.accounts import User
from db.engine import session_scope
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.leak_scan import Blob, Secrets
from tests.support.monday_fixtures import MONDAY_TOKEN

pytestmark = pytest.mark.usefixtures("no_loop_stalls")


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings):
    engine = migrated_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
async def client(settings, engine, monday_tokens):
    app = create_app(settings)
    app.state.engine = engine
    app.state.monday_tokens = monday_tokens
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
def admin(engine):
    return add_user(engine, account_name=f"acme-{uuid.uuid4().hex[:6]}", role="admin")


@pytest.fixture
def member(engine, admin):
    from accounts import service

    with session_scope(engine) as session:
        account = session.get_one(User, admin[0]).account
        user = service.create_user(session, account, email="m@acme.example", display_name="M", role="member")
        return service.issue_api_token(session, user, "test").plain


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def account_of(engine, user_id) -> str:
    with session_scope(engine) as session:
        return str(session.get_one(User, user_id).account_id)


def vault_holds_token(openbao, account_id: str) -> bool:
    root = hvac.Client(url=openbao.addr, token=openbao.root_token)
    try:
        data = root.secrets.kv.v2.read_secret_version(
            token_path(account_id), mount_point="outlook-kv", raise_on_deleted_version=True
        )["data"]["data"]
    except hvac.exceptions.InvalidPath:
        return False
    # Stored Transit-encrypted: the KV value itself is not the token.
    assert MONDAY_TOKEN not in str(data) and data["token"].startswith("vault:")
    return True


async def test_link_verify_store_show_remove(client, admin, engine, openbao, monday_fake, monday_tokens):
    user_id, token = admin
    account_id = await asyncio.to_thread(account_of, engine, user_id)
    assert (await client.get("/api/monday", headers=bearer(token))).json() == {
        "connected": False,
        "api_url": None,
    }

    answer = await client.put(
        "/api/monday", headers=bearer(token), json={"api_token": MONDAY_TOKEN, "api_url": monday_fake.api_url}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"connected": True, "api_url": monday_fake.api_url}
    assert monday_fake.requests()[-1]["fields"] == ["me"]
    assert await asyncio.to_thread(vault_holds_token, openbao, account_id)
    assert (await monday_tokens.load(account_id)).get_secret_value() == MONDAY_TOKEN

    shown = await client.get("/api/monday", headers=bearer(token))
    assert shown.json() == {"connected": True, "api_url": monday_fake.api_url}
    assert MONDAY_TOKEN not in shown.text

    assert (await client.delete("/api/monday", headers=bearer(token))).status_code == 204
    assert (await client.get("/api/monday", headers=bearer(token))).json()["connected"] is False
    assert not await asyncio.to_thread(vault_holds_token, openbao, account_id)
    # Removing again is fine.
    assert (await client.delete("/api/monday", headers=bearer(token))).status_code == 204


async def test_a_refused_token_is_422_and_nothing_is_stored(client, admin, engine, openbao, monday_fake):
    user_id, token = admin
    answer = await client.put(
        "/api/monday",
        headers=bearer(token),
        json={"api_token": "wrong-token-000000000000", "api_url": monday_fake.api_url},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "monday.com refused this token"
    assert "wrong-token" not in answer.text
    account_id = await asyncio.to_thread(account_of, engine, user_id)
    assert not await asyncio.to_thread(vault_holds_token, openbao, account_id)
    assert (await client.get("/api/monday", headers=bearer(token))).json()["connected"] is False


async def test_unreachable_monday_is_502_not_500(client, admin):
    answer = await client.put(
        "/api/monday",
        headers=bearer(admin[1]),
        json={"api_token": MONDAY_TOKEN, "api_url": "http://127.0.0.1:9/v2"},
    )
    assert answer.status_code == 502 and MONDAY_TOKEN not in answer.text


@pytest.mark.parametrize(
    "body",
    [{}, {"api_token": ""}, {"api_token": "x", "api_url": "not a url"}, {"api_token": "x", "other": 1}, []],
)
async def test_bad_input_is_422(client, admin, body):
    assert (await client.put("/api/monday", headers=bearer(admin[1]), json=body)).status_code == 422


async def test_admins_only(client, member, monday_fake):
    for method in ("GET", "PUT", "DELETE"):
        answer = await client.request(
            method,
            "/api/monday",
            headers=bearer(member),
            json={"api_token": MONDAY_TOKEN, "api_url": monday_fake.api_url},
        )
        assert answer.status_code == 403
    assert (await client.get("/api/monday")).status_code == 401


async def test_the_token_is_only_in_vault(client, admin, settings, monday_fake, caplog):
    caplog.set_level(logging.DEBUG)
    answer = await client.put(
        "/api/monday",
        headers=bearer(admin[1]),
        json={"api_token": MONDAY_TOKEN, "api_url": monday_fake.api_url},
    )
    assert answer.status_code == 200 and MONDAY_TOKEN not in answer.text

    def database_files() -> list[Blob]:
        return [Blob(str(p), p.read_bytes()) for p in Path(settings.data_dir).glob("app.db*")]

    secrets = Secrets()
    secrets.add("monday.com token", MONDAY_TOKEN)
    blobs = await asyncio.to_thread(database_files)
    assert blobs
    blobs += [
        Blob("log", caplog.text.encode()),
        Blob("fake's request log", str(monday_fake.requests()).encode()),
    ]
    blobs.append(Blob("fake's log file", (await asyncio.to_thread(monday_fake.log_text)).encode()))
    assert secrets.find(blobs) == []
