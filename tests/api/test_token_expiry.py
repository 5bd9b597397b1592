"""API tokens may be issued with an expiry: from that instant they authenticate nobody (401), like a
revoked one; an expiry in the past or without a zone is refused when issuing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from db.accounts import ApiToken
from db.engine import session_scope
from tests.api.conftest import bearer


async def _issue(client, admin, user_id, expires_at: str | None):
    body = {"name": "short-lived"} | ({"expires_at": expires_at} if expires_at else {})
    return await client.post(f"/api/users/{user_id}/tokens", json=body, headers=bearer(admin[1]))


async def test_a_token_works_until_it_expires_then_is_401(client, admin, member, engine):
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    issued = await _issue(client, admin, member[0], soon)
    assert issued.status_code == 201, issued.text
    token, token_id = issued.json()["token"], uuid.UUID(issued.json()["id"])
    assert datetime.fromisoformat(issued.json()["expires_at"]) == datetime.fromisoformat(soon)
    assert (await client.get("/api/me", headers=bearer(token))).status_code == 200

    with session_scope(engine) as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await client.get("/api/me", headers=bearer(token))
    assert expired.status_code == 401 and expired.headers["www-authenticate"] == "Bearer"
    # The member's other token, without an expiry, still works.
    assert (await client.get("/api/me", headers=bearer(member[1]))).status_code == 200


async def test_an_expired_token_cannot_sign_in_either(client, admin, member, engine):
    issued = await _issue(client, admin, member[0], (datetime.now(UTC) + timedelta(hours=1)).isoformat())
    with session_scope(engine) as session:
        session.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    signin = await client.post("/signin", data={"token": issued.json()["token"]})
    assert signin.status_code == 401 and "set-cookie" not in signin.headers


async def test_an_expiry_in_the_past_or_without_zone_is_422(client, admin, member):
    past = await _issue(client, admin, member[0], (datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    assert past.status_code == 422
    assert "expires_at must be in the future" in past.text
    naive = await _issue(client, admin, member[0], "2099-01-01T00:00:00")
    assert naive.status_code == 422 and "expires_at" in naive.text
