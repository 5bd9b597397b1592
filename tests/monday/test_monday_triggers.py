"""Outgoing recipes on a monday.com board keep their monday webhook in step (api/monday_recipe_hooks.py,
boards/monday/triggers.py), through the recipes API served by uvicorn, so that the fake's challenge on
create_webhook reaches the real webhook route; a real SQLite database and OpenBao for the token.

Saving registers exactly one webhook (event and config as the trigger says); a failing create_webhook
leaves no new recipe, or a changed one disabled, with an answer that says why; disabling, moving and
deleting delete the webhook; deleting while monday.com is down still removes the local rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from api.main import create_app
from boards.monday import triggers
from boards.monday.api import MondayApi
from boards.monday.client import MondayClient
from boards.monday.token_store import MondayTokenStore
from db.engine import session_scope
from db.recipes import RecipeRow
from tests.monday.webhook_support import webhook_rows
from tests.recipes.support import add_connection
from tests.support.appdb import make_settings
from tests.support.emulator_server import free_port
from tests.support.monday_fake_server import RunningMondayFake
from tests.support.monday_fixtures import MONDAY_TOKEN, MondayAccountRef
from tests.support.serving import serving


@dataclass
class Api:
    http: httpx.AsyncClient
    connection_id: str
    engine: Engine
    fake: RunningMondayFake
    secrets: list[str]

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, **kwargs)

    async def webhooks(self, board_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        found = (await asyncio.to_thread(self.fake.control, "GET", "/webhooks")).json()
        return [(w["board_id"], w["event"], w["config"]) for w in found if w["board_id"] == board_id]

    async def fault(self, kind: str, field: str, count: int = 1) -> None:
        await asyncio.to_thread(self.fake.fault, kind, field=field, count=count, retry_in_seconds=1)

    async def recipes(self) -> int:
        def count() -> int:
            with session_scope(self.engine) as session:
                return session.scalar(select(func.count()).select_from(RecipeRow)) or 0

        return await asyncio.to_thread(count)


@pytest.fixture
def recorded_secrets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The webhook URLs' secrets triggers.py makes (the test needs them to look for leaks)."""
    made: list[str] = []

    def token_urlsafe(nbytes: int | None = None) -> str:
        value = secrets.token_urlsafe(nbytes)
        made.append(value)
        return value

    monkeypatch.setattr(triggers, "secrets", SimpleNamespace(token_urlsafe=token_urlsafe))
    return made


@pytest.fixture
def faults_cleared(monday_fake: RunningMondayFake) -> Iterator[None]:
    monday_fake.control("DELETE", "/faults")
    yield
    monday_fake.control("DELETE", "/faults")


@pytest.fixture
async def api(
    tmp_path: Path,
    monday_engine: Engine,
    monday_tokens: MondayTokenStore,
    monday_account: MondayAccountRef,
    monday_fake: RunningMondayFake,
    recorded_secrets: list[str],
    faults_cleared: None,
) -> AsyncIterator[Api]:
    port = free_port()
    settings = make_settings(tmp_path, public_base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings)
    app.state.engine = monday_engine
    app.state.monday_tokens = monday_tokens
    connection_id = await asyncio.to_thread(
        add_connection, monday_engine, monday_account.user_id, "me@acme.example", "User.Read Mail.Send"
    )
    async with (
        serving(app, port, lifespan="off"),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {monday_account.api_token}"},
            timeout=30,
        ) as http,
    ):
        yield Api(http, connection_id, monday_engine, monday_fake, recorded_secrets)


def column_id(board: dict[str, Any], title: str) -> str:
    found: str = next(c["id"] for c in board["columns"] if c["title"] == title)
    return found


def recipe(api: Api, trigger: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "connection_id": api.connection_id,
        "name": "Tell the customer",
        "trigger": {"source": "monday", **trigger},
        "action": {"type": "send_email", "to": "{column:Email}", "subject": "Done: {name}"},
        **fields,
    }


def status_done(board: dict[str, Any]) -> dict[str, Any]:
    return {"type": "column_changed", "board_id": board["id"], "column": "Status", "to": "Done"}


async def new_board(fake: RunningMondayFake, columns: list[str] | None = None) -> dict[str, Any]:
    cols: list[dict[str, Any]] = [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["Working on it", "Done"]},
        {"title": "Notes", "type": "long_text"},
    ]
    board: dict[str, Any] = await asyncio.to_thread(fake.add_board, "Billing", ["New"], cols)
    return board


async def test_saving_registers_exactly_one_webhook_with_its_event_and_config(
    api: Api, monday_fake: RunningMondayFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    board = await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 201, r.text
    recipe_id = uuid.UUID(r.json()["id"])
    assert await api.webhooks(board["id"]) == [
        (board["id"], "change_specific_column_value", {"columnId": column_id(board, "Status")})
    ]
    [row] = await asyncio.to_thread(webhook_rows, api.engine)
    found = (await asyncio.to_thread(monday_fake.control, "GET", "/webhooks")).json()
    assert row.monday_webhook_id == next(w["id"] for w in found if w["board_id"] == board["id"])
    assert (row.recipe_id, row.monday_board_id, row.event) == (
        recipe_id,
        board["id"],
        "change_specific_column_value",
    )
    assert row.column_id == column_id(board, "Status")

    # The URL's secret: only its hash in the database, nowhere in clear (database, answer, logs).
    [secret] = api.secrets
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    database = Path(str(api.engine.url.database))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert secret.encode() not in stored
    assert secret not in r.text
    assert secret not in "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in await asyncio.to_thread(monday_fake.log_text)

    # Saving it again unchanged (a rename) keeps the one webhook.
    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"name": "Renamed"})
    assert r.status_code == 200, r.text
    assert len(await api.webhooks(board["id"])) == 1
    assert [w.secret_hash for w in await asyncio.to_thread(webhook_rows, api.engine)] == [row.secret_hash]


async def test_an_item_created_recipe_registers_create_item(api: Api, monday_fake: RunningMondayFake) -> None:
    board = await new_board(monday_fake)
    r = await api.call(
        "POST", "/api/recipes", json=recipe(api, {"type": "item_created", "board_id": board["id"]})
    )
    assert r.status_code == 201, r.text
    assert await api.webhooks(board["id"]) == [(board["id"], "create_item", {})]
    [row] = await asyncio.to_thread(webhook_rows, api.engine)
    assert (row.event, row.column_id) == ("create_item", None)


async def test_a_disabled_new_recipe_registers_nothing(api: Api, monday_fake: RunningMondayFake) -> None:
    board = await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board), enabled=False))
    assert r.status_code == 201, r.text
    assert await api.webhooks(board["id"]) == []
    assert await asyncio.to_thread(webhook_rows, api.engine) == []


@pytest.mark.parametrize(
    ("kind", "status", "says"),
    [
        ("server_error", 502, "monday.com answered HTTP 500"),
        ("rate_limit", 502, "create a webhook on board"),
        ("user_unauthorized", 422, "refused the account's token"),
    ],
)
async def test_a_failing_create_webhook_leaves_no_new_recipe(
    api: Api, monday_fake: RunningMondayFake, kind: str, status: int, says: str
) -> None:
    board = await new_board(monday_fake)
    await api.fault(kind, "create_webhook")
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == status, r.text
    assert "the recipe was not saved" in r.json()["detail"]
    assert says in r.json()["detail"]
    assert await api.recipes() == 0
    assert await asyncio.to_thread(webhook_rows, api.engine) == []
    assert await api.webhooks(board["id"]) == []
    assert api.secrets and all(s not in r.text for s in api.secrets)


async def test_an_unreachable_webhook_url_leaves_no_new_recipe(
    api: Api, monday_fake: RunningMondayFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """monday.com's challenge cannot reach the URL (a wrong PUBLIC_BASE_URL): a 502 that says so."""
    board = await new_board(monday_fake)
    real = triggers.MondayTriggers.__init__

    def elsewhere(self: triggers.MondayTriggers, engine: Engine, tokens: Any, public_base: str) -> None:
        real(self, engine, tokens, f"http://127.0.0.1:{free_port()}")

    monkeypatch.setattr(triggers.MondayTriggers, "__init__", elsewhere)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 502, r.text
    assert "not saved" in r.json()["detail"]
    assert await api.recipes() == 0
    assert await asyncio.to_thread(webhook_rows, api.engine) == []


async def test_a_failing_registration_disables_a_changed_recipe(
    api: Api, monday_fake: RunningMondayFake
) -> None:
    board = await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 201, r.text
    recipe_id = r.json()["id"]

    await api.fault("server_error", "create_webhook")
    notes = {"type": "column_changed", "board_id": board["id"], "column": "Notes"}
    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"trigger": {"source": "monday", **notes}})
    assert r.status_code == 502, r.text
    assert "saved disabled" in r.json()["detail"]
    got = (await api.call("GET", f"/api/recipes/{recipe_id}")).json()
    assert got["enabled"] is False
    assert got["trigger"]["column"] == "Notes"
    # The old webhook went with the old trigger; the new one never came.
    assert await api.webhooks(board["id"]) == []
    assert await asyncio.to_thread(webhook_rows, api.engine) == []

    # Enabling it once monday.com works again registers it.
    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"enabled": True})
    assert r.status_code == 200, r.text
    assert await api.webhooks(board["id"]) == [
        (board["id"], "change_specific_column_value", {"columnId": column_id(board, "Notes")})
    ]


async def test_disabling_moving_and_deleting_delete_the_webhook(
    api: Api, monday_fake: RunningMondayFake
) -> None:
    board, other = await new_board(monday_fake), await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 201, r.text
    recipe_id = r.json()["id"]

    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"enabled": False})
    assert r.status_code == 200, r.text
    assert await api.webhooks(board["id"]) == []
    assert await asyncio.to_thread(webhook_rows, api.engine) == []

    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"enabled": True})
    assert r.status_code == 200, r.text
    assert len(await api.webhooks(board["id"])) == 1

    # Moved to another board: the old board's webhook goes, the new board gets one.
    moved = {"source": "monday", **status_done(other)}
    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"trigger": moved})
    assert r.status_code == 200, r.text
    assert await api.webhooks(board["id"]) == []
    assert await api.webhooks(other["id"]) == [
        (other["id"], "change_specific_column_value", {"columnId": column_id(other, "Status")})
    ]
    [row] = await asyncio.to_thread(webhook_rows, api.engine)
    assert row.monday_board_id == other["id"]

    r = await api.call("DELETE", f"/api/recipes/{recipe_id}")
    assert r.status_code == 204, r.text
    assert await api.webhooks(other["id"]) == []
    assert await asyncio.to_thread(webhook_rows, api.engine) == []


async def _delete_at_monday(fake: RunningMondayFake, webhook_id: str) -> None:
    async with httpx.AsyncClient() as http:
        await MondayApi(MondayClient(http, fake.api_url, SecretStr(MONDAY_TOKEN))).delete_webhook(webhook_id)


async def test_a_webhook_a_person_deleted_at_monday_does_not_block_disabling(
    api: Api, monday_fake: RunningMondayFake
) -> None:
    board = await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 201, r.text
    recipe_id = r.json()["id"]
    [row] = await asyncio.to_thread(webhook_rows, api.engine)
    assert row.monday_webhook_id is not None
    await _delete_at_monday(monday_fake, row.monday_webhook_id)

    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"enabled": False})
    assert r.status_code == 200, r.text
    assert await asyncio.to_thread(webhook_rows, api.engine) == []
    r = await api.call("PATCH", f"/api/recipes/{recipe_id}", json={"enabled": True})
    assert r.status_code == 200, r.text
    assert len(await api.webhooks(board["id"])) == 1


async def test_deleting_while_monday_is_down_removes_the_rows_and_warns_without_the_secret(
    api: Api, monday_fake: RunningMondayFake, caplog: pytest.LogCaptureFixture
) -> None:
    board = await new_board(monday_fake)
    r = await api.call("POST", "/api/recipes", json=recipe(api, status_done(board)))
    assert r.status_code == 201, r.text
    recipe_id = r.json()["id"]
    [secret] = api.secrets

    caplog.set_level(logging.INFO)
    await api.fault("server_error", "delete_webhook", count=3)
    r = await api.call("DELETE", f"/api/recipes/{recipe_id}")
    assert r.status_code == 204, r.text
    assert await api.recipes() == 0
    assert await asyncio.to_thread(webhook_rows, api.engine) == []
    warnings = [
        rec for rec in caplog.records if rec.levelno >= logging.WARNING and rec.name.startswith("boards")
    ]
    assert any(recipe_id in rec.getMessage() and "not deleted" in rec.getMessage() for rec in warnings)
    assert secret not in "\n".join(rec.getMessage() for rec in caplog.records)

    # The webhook stayed at monday.com; what it delivers now is refused.
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{api.http.base_url}/webhooks/monday/{secret}", json={"challenge": "x"})
    assert answer.status_code == 404
