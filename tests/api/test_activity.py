"""GET /api/connections/{id}/activity on a real SQLite database."""

from __future__ import annotations

import time

import activitylog
from tests.api.conftest import bearer
from tests.recipes.support import add_connection


async def test_activity_newest_first_with_limit(client, admin, engine):
    connection_id = add_connection(engine, admin[0])
    activitylog.record_outcome(engine, connection_id, "m1", "processed", "1 recipe(s) matched", 1)
    time.sleep(0.01)
    activitylog.record_outcome(engine, connection_id, "m2", "skipped", "folder", 0)
    time.sleep(0.01)
    activitylog.record_outcome(engine, connection_id, "m3", "failed", "board no longer exists", 0)

    path = f"/api/connections/{connection_id}/activity"
    response = await client.get(path, headers=bearer(admin[1]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3
    assert [(d["message_id"], d["outcome"], d["reason"], d["items_created"]) for d in body["data"]] == [
        ("m3", "failed", "board no longer exists", 0),
        ("m2", "skipped", "folder", 0),
        ("m1", "processed", "1 recipe(s) matched", 1),
    ]
    assert all(d["recorded_at"] for d in body["data"])

    limited = (await client.get(path, params={"limit": 1}, headers=bearer(admin[1]))).json()
    assert [d["message_id"] for d in limited["data"]] == ["m3"] and limited["count"] == 1
    assert (await client.get(path, params={"limit": 0}, headers=bearer(admin[1]))).status_code == 422

    # A re-record replaces the outcome and moves it to the top.
    time.sleep(0.01)
    activitylog.record_outcome(engine, connection_id, "m1", "processed", "2 recipe(s) matched", 2)
    first = (await client.get(path, headers=bearer(admin[1]))).json()["data"][0]
    assert (first["message_id"], first["reason"], first["items_created"]) == ("m1", "2 recipe(s) matched", 2)


async def test_activity_of_someone_elses_connection_is_not_found(client, admin, member, stranger, engine):
    connection_id = add_connection(engine, admin[0])
    activitylog.record_outcome(engine, connection_id, "m1", "processed", "", 1)
    for user in (member, stranger):
        response = await client.get(f"/api/connections/{connection_id}/activity", headers=bearer(user[1]))
        assert response.status_code == 404 and response.json()["detail"] == "connection not found"
    assert (await client.get(f"/api/connections/{connection_id}/activity")).status_code == 401


async def test_activity_says_what_each_recipe_did(client, admin, engine):
    connection_id = add_connection(engine, admin[0])
    details = [
        {
            "recipe_id": "r1",
            "recipe": "Billing",
            "result": "update",
            "reason": "made",
            "missing": ["from.name"],
        },
        {
            "recipe_id": "r2",
            "recipe": "Support",
            "result": "missed",
            "reason": "subject_contains",
            "missing": [],
        },
    ]
    activitylog.record_outcome(
        engine, connection_id, "m1", "processed", "1 recipe(s) matched", 0, details=details
    )
    activitylog.record_outcome(
        engine, connection_id, "send/e1/r3", "processed", "sent", 0, direction="outgoing"
    )

    body = (await client.get(f"/api/connections/{connection_id}/activity", headers=bearer(admin[1]))).json()
    by_id = {d["message_id"]: d for d in body["data"]}
    assert by_id["m1"]["direction"] == "incoming"
    assert by_id["m1"]["recipes"] == details
    assert by_id["send/e1/r3"]["direction"] == "outgoing"
    assert by_id["send/e1/r3"]["recipes"] == []
