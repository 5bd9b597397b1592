"""`recipes`, `boards`, `audit` and `outbox` against the real API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from db.engine import session_scope
from db.outbox import OutboxRow
from tests.recipes.support import add_board, add_connection, recipe_body


async def make_recipe(app, token: str, connection_id: str, board_id: str) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        r = await c.post(
            "/api/recipes",
            json=recipe_body(connection_id, board_id),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_recipes_list_show_enable_disable(cli, app, engine, admin):
    empty = await cli("recipes", "list")
    assert empty.code == 0 and empty.out.startswith("No recipes yet.")

    connection_id = add_connection(engine, admin[0])
    board = add_board(engine, admin[0])
    recipe_id = await make_recipe(app, admin[1], connection_id, str(board.id))

    table = await cli("recipes", "list")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "NAME", "ENABLED", "KIND", "CONNECTION", "NEEDS", "ATTENTION"]
    assert row.startswith(recipe_id) and "Support mail" in row and "email_received -> create_item" in row
    assert " yes " in row

    off = await cli("recipes", "disable", recipe_id)
    assert off.code == 0 and off.out == "Recipe 'Support mail' is disabled.\n"
    shown = await cli("recipes", "show", recipe_id, "--json")
    assert json.loads(shown.out)["enabled"] is False
    assert "Enabled:         no" in (await cli("recipes", "show", recipe_id)).out
    on = await cli("recipes", "enable", recipe_id, "--json")
    assert on.code == 0 and json.loads(on.out)["enabled"] is True

    other = add_connection(engine, admin[0], mailbox="other@acme.example")
    filtered = json.loads((await cli("recipes", "list", "--connection", other, "--json")).out)
    assert filtered == {"data": [], "count": 0}

    missing = await cli("recipes", "enable", str(uuid.uuid4()))
    assert missing.code == 1 and missing.err == "error: recipe not found (HTTP 404)\n"
    assert (await cli("recipes", "enable", "not-an-id")).code == 2


async def test_boards_list_and_show(cli, engine, admin):
    assert (await cli("boards", "list")).out.startswith("No boards yet.")
    board = add_board(engine, admin[0])
    table = await cli("boards", "list")
    assert table.code == 0
    assert table.out.splitlines()[1].split()[:4] == [str(board.id), "Support", "private", "New"]
    shown = await cli("boards", "show", str(board.id))
    assert "Columns:    From (email), Received (date), Preview (long_text)" in shown.out
    assert json.loads((await cli("boards", "list", "--json")).out)["count"] == 1
    missing = await cli("boards", "show", str(uuid.uuid4()))
    assert missing.code == 1 and missing.err == "error: board not found (HTTP 404)\n"


async def test_audit_pages_and_refuses_an_unknown_kind(cli, engine, admin, temporal):
    assert (await cli("audit")).out == "No audit entries.\n"
    ids = [add_connection(engine, admin[0], mailbox=f"m{i}@acme.example") for i in range(3)]
    for connection_id in ids:
        assert (await cli("connections", "disconnect", connection_id, "--yes")).code == 0
    first = await cli("audit", "--limit", "2", "--kind", "disconnect_requested")
    assert first.code == 0 and len(first.out.splitlines()) == 3
    last_id = first.out.splitlines()[-1].split()[0]
    assert first.err == f"More may be older: audit --before {last_id}\n"
    rest = json.loads((await cli("audit", "--before", last_id, "--json")).out)
    assert rest["count"] == 1 and rest["data"][0]["connection_id"] == ids[0]

    unknown = await cli("audit", "--kind", "nonsense")
    assert unknown.code == 1 and unknown.err.startswith("error: query.kind: Input should be ")


async def test_outbox_depth_and_age_from_the_metrics_page(cli, engine, admin):
    empty = await cli("outbox")
    assert empty.code == 0
    assert empty.out == "The outbox is empty: every notification has been taken by its workflow.\n"

    connection_id = add_connection(engine, admin[0])
    with session_scope(engine) as session:
        for minutes in (5, 1):
            session.add(
                OutboxRow(
                    connection_id=uuid.UUID(connection_id),
                    kind="change",
                    message_ids='["m1"]',
                    created_at=datetime.now(UTC) - timedelta(minutes=minutes),
                )
            )
    waiting = json.loads((await cli("outbox", "--json")).out)
    assert waiting["depth"] == 2 and 290 < waiting["oldest_age_seconds"] < 400
    words = await cli("outbox")
    assert "Depth:  2 notification(s) waiting" in words.out and "Oldest: 5 min old" in words.out
