"""The retry routes' answers before any workflow is asked (real SQLite, no Temporal: the client is a
stand-in that fails the test if it is used): owner only, active connections only, failed messages only,
bad input a 422, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

import activitylog
from api.deps import get_temporal_client
from tests.api.conftest import bearer
from tests.recipes.support import add_connection


class NoTemporal:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal must not be asked ({name})")


@pytest.fixture
def no_temporal(app):
    app.dependency_overrides[get_temporal_client] = NoTemporal


async def test_only_the_owner_of_an_active_connection_retries(
    client, admin, member, stranger, engine, no_temporal
):
    connection_id = add_connection(engine, admin[0])
    activitylog.record_outcome(engine, connection_id, "m1", "failed", "board no longer exists", 0)
    one = f"/api/connections/{connection_id}/messages/m1/retry"
    every = f"/api/connections/{connection_id}/retry-failed"
    since = {"since": "2026-01-01T00:00:00Z"}
    for user in (member, stranger):
        r = await client.post(one, headers=bearer(user[1]))
        assert r.status_code == 404 and r.json() == {"detail": "connection not found"}
        r = await client.post(every, json=since, headers=bearer(user[1]))
        assert r.status_code == 404
    assert (await client.post(one)).status_code == 401

    revoked = add_connection(engine, admin[0], mailbox="old@acme.example", status="revoked")
    r = await client.post(f"/api/connections/{revoked}/messages/m1/retry", headers=bearer(admin[1]))
    assert r.status_code == 409 and r.json() == {"detail": "the connection is revoked"}
    r = await client.post(f"/api/connections/{revoked}/retry-failed", json=since, headers=bearer(admin[1]))
    assert r.status_code == 409


async def test_only_a_failed_message_and_only_good_input(client, admin, engine, no_temporal):
    connection_id = add_connection(engine, admin[0])
    activitylog.record_outcome(engine, connection_id, "done", "processed", "1 recipe(s) matched", 1)
    base = f"/api/connections/{connection_id}"
    r = await client.post(f"{base}/messages/done/retry", headers=bearer(admin[1]))
    assert r.status_code == 409
    assert r.json() == {"detail": "only a failed message is retried; its outcome is processed"}
    r = await client.post(f"{base}/messages/never/retry", headers=bearer(admin[1]))
    assert r.status_code == 409 and "no outcome yet" in r.json()["detail"]

    bodies: list[object] = [{"since": "yesterday"}, {"since": "2026-01-01T00:00:00"}, {}, []]
    for body in bodies:  # not a time, no zone, missing, not an object
        r = await client.post(f"{base}/retry-failed", json=body, headers=bearer(admin[1]))
        assert r.status_code == 422, (body, r.text)
    r = await client.post(
        f"{base}/retry-failed", json={"since": "2026-01-01T00:00:00Z"}, headers=bearer(admin[1])
    )
    assert r.status_code == 200 and r.json() == {"data": [], "count": 0}
    assert (
        await client.post("/api/connections/not-a-uuid/retry-failed", headers=bearer(admin[1]))
    ).status_code == 422
