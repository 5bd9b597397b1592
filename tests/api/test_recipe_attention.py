"""needs_attention on GET /api/recipes and /api/recipes/{id}, on a real SQLite database: a recipe whose
board lost its group, a recipe whose latest activity-log result failed (with since), cleared once the
board is fixed and a later message succeeds; the list reads the activity log in one bounded query."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, update

import activitylog
from db.activity_log import MessageOutcome
from db.engine import session_scope
from recipes.attention import WINDOW
from tests.api.conftest import bearer
from tests.recipes.support import SUPPORT_BOARD, add_connection, recipe_body

NOW = datetime.now(UTC)


def _log(
    engine: Engine, connection_id: str, message_id: str, entries: list[dict[str, Any]], at: datetime
) -> None:
    failed = any(e["result"] == "failed" for e in entries)
    activitylog.record_outcome(
        engine, connection_id, message_id, "failed" if failed else "processed", "", 0, details=entries
    )
    # A fixed time, so the order of rows written within the same microsecond is never in doubt.
    with session_scope(engine) as session:
        session.execute(
            update(MessageOutcome)
            .where(
                MessageOutcome.connection_id == uuid.UUID(connection_id),
                MessageOutcome.message_id == message_id,
            )
            .values(recorded_at=at)
        )


async def log(
    engine: Engine, connection_id: str, message_id: str, at: datetime, *entries: dict[str, Any]
) -> None:
    await asyncio.to_thread(_log, engine, connection_id, message_id, list(entries), at)


def entry(recipe: dict[str, Any], result: str, reason: str = "") -> dict[str, Any]:
    return {
        "recipe_id": recipe["id"],
        "recipe": recipe["name"],
        "result": result,
        "reason": reason,
        "missing": [],
    }


@pytest.fixture
async def connection_id(engine, admin) -> str:
    return await asyncio.to_thread(add_connection, engine, admin[0])


@pytest.fixture
async def board(client, admin) -> dict[str, Any]:
    body = {**SUPPORT_BOARD, "groups": ["New", "Later"]}
    response = await client.post("/api/boards", json=body, headers=bearer(admin[1]))
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def recipe(client, admin, connection_id, board) -> dict[str, Any]:
    response = await client.post(
        "/api/recipes", json=recipe_body(connection_id, board["id"]), headers=bearer(admin[1])
    )
    assert response.status_code == 201, response.text
    assert response.json()["needs_attention"] is None
    return dict(response.json())


async def attention(client: httpx.AsyncClient, token: str, recipe: dict[str, Any]) -> Any:
    one = (await client.get(f"/api/recipes/{recipe['id']}", headers=bearer(token))).json()["needs_attention"]
    listed = (await client.get("/api/recipes", headers=bearer(token))).json()["data"]
    from_list = next(r for r in listed if r["id"] == recipe["id"])["needs_attention"]
    # since may differ between the two reads only when it is the moment of the check (no failure yet).
    assert (from_list or {}).get("reason") == (one or {}).get("reason")
    return one


async def test_a_recipe_whose_group_was_removed_needs_attention(client, admin, board, recipe):
    assert await attention(client, admin[1], recipe) is None
    removed = await client.patch(
        f"/api/boards/{board['id']}",
        json={"changes": [{"op": "remove_group", "group": "New"}]},
        headers=bearer(admin[1]),
    )
    assert removed.status_code == 200, removed.text
    assert [a["id"] for a in removed.json()["affected_recipes"]] == [recipe["id"]]
    shown = await attention(client, admin[1], recipe)
    assert shown is not None
    assert "does not fit its board" in shown["reason"] and "has no group 'New'" in shown["reason"]
    assert datetime.fromisoformat(shown["since"]) >= NOW


async def test_a_recipe_whose_latest_result_failed_needs_attention_since_the_run_began(
    client, admin, engine, connection_id, recipe
):
    first, second = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    await log(engine, connection_id, "m0", NOW - timedelta(hours=3), entry(recipe, "item", "made"))
    await log(
        engine, connection_id, "m1", first, entry(recipe, "failed", "board 'Support' has no group 'New'")
    )
    await log(
        engine, connection_id, "m2", second, entry(recipe, "failed", "board 'Support' has no column 'From'")
    )
    # A message that did not meet the recipe's conditions says nothing about whether it works.
    await log(engine, connection_id, "m3", NOW, entry(recipe, "missed", "from"))
    shown = await attention(client, admin[1], recipe)
    assert shown["reason"] == "its latest message failed: board 'Support' has no column 'From'"
    assert datetime.fromisoformat(shown["since"]) == first


async def test_cleared_after_the_board_is_fixed_and_a_later_message_succeeds(
    client, admin, engine, connection_id, board, recipe
):
    headers = bearer(admin[1])
    path = f"/api/boards/{board['id']}"
    rename = {"changes": [{"op": "rename_group", "group": "New", "title": "Inbox"}]}
    assert (await client.patch(path, json=rename, headers=headers)).status_code == 200
    failed_at = NOW - timedelta(minutes=5)
    await log(
        engine, connection_id, "m1", failed_at, entry(recipe, "failed", "board 'Support' has no group 'New'")
    )
    broken = await attention(client, admin[1], recipe)
    assert "has no group 'New'" in broken["reason"] and "its latest message failed" in broken["reason"]
    assert datetime.fromisoformat(broken["since"]) == failed_at

    back = {"changes": [{"op": "rename_group", "group": "Inbox", "title": "New"}]}
    fixed = await client.patch(path, json=back, headers=headers)
    assert fixed.status_code == 200 and fixed.json()["affected_recipes"] == []
    # The board fits again, but its latest result is still the failure.
    still = await attention(client, admin[1], recipe)
    assert still["reason"] == "its latest message failed: board 'Support' has no group 'New'"

    await log(engine, connection_id, "m2", NOW, entry(recipe, "item", "made"))
    assert await attention(client, admin[1], recipe) is None


async def test_only_its_own_entries_and_recent_rows_count(
    client, admin, engine, connection_id, board, recipe
):
    other = recipe_body(connection_id, board["id"]) | {"name": "Other"}
    second = (await client.post("/api/recipes", json=other, headers=bearer(admin[1]))).json()
    await log(
        engine, connection_id, "old", NOW - WINDOW - timedelta(hours=1), entry(recipe, "failed", "long ago")
    )
    await log(
        engine, connection_id, "m1", NOW, entry(recipe, "item", "made"), entry(second, "failed", "broken")
    )
    assert await attention(client, admin[1], recipe) is None
    assert (await attention(client, admin[1], second))["reason"] == "its latest message failed: broken"
    # Beyond the window a failure is no longer read.
    await log(engine, connection_id, "m1", NOW - WINDOW - timedelta(minutes=1), entry(second, "failed", "x"))
    assert await attention(client, admin[1], second) is None


async def test_an_outgoing_recipe_whose_send_failed_needs_attention(client, admin, engine, board):
    connection_id = await asyncio.to_thread(add_connection, engine, admin[0], scopes="User.Read Mail.Send")
    body = {
        "connection_id": connection_id,
        "name": "Reply",
        "trigger": {"type": "item_created", "board_id": board["id"]},
        "action": {"type": "send_email", "to": "{column:From}", "subject": "{name}", "body": "Got it."},
    }
    created = await client.post("/api/recipes", json=body, headers=bearer(admin[1]))
    assert created.status_code == 201, created.text
    recipe = created.json()
    await log(
        engine, connection_id, f"send/e1/{recipe['id']}", NOW, entry(recipe, "failed", "Mail.Send refused")
    )
    assert (await attention(client, admin[1], recipe))[
        "reason"
    ] == "its latest message failed: Mail.Send refused"
    # A removed column its template reads shows too, next to the failure.
    patched = await client.patch(
        f"/api/boards/{board['id']}",
        json={"changes": [{"op": "remove_column", "column": "From"}]},
        headers=bearer(admin[1]),
    )
    assert [a["name"] for a in patched.json()["affected_recipes"]] == ["Reply"]
    reason = (await attention(client, admin[1], recipe))["reason"]
    assert "has no column 'From'" in reason and "Mail.Send refused" in reason


async def test_the_list_reads_the_activity_log_once(client, admin, engine, connection_id, board, recipe):
    connection_2 = await asyncio.to_thread(add_connection, engine, admin[0], "two@acme.example")
    for n, conn in enumerate((connection_id, connection_2, connection_2)):
        body = recipe_body(conn, board["id"]) | {"name": f"R{n}"}
        created = (await client.post("/api/recipes", json=body, headers=bearer(admin[1]))).json()
        await log(engine, conn, f"m{n}", NOW, entry(created, "failed", f"broken {n}"))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        listed = (await client.get("/api/recipes", headers=bearer(admin[1]))).json()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert listed["count"] == 4
    assert sum(1 for r in listed["data"] if r["needs_attention"]) == 3
    assert sum(1 for s in statements if "message_outcomes" in s) == 1
    assert sum(1 for s in statements if "FROM board_groups" in s) == 1
