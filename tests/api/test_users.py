"""Users and tokens through the HTTP API: roles, account scoping, validation, tokens shown once."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from db.accounts import ApiToken
from db.engine import session_scope
from tests.api.conftest import bearer


async def test_admin_creates_a_user(client, admin):
    response = await client.post(
        "/api/users",
        json={"email": "New@Acme.example", "display_name": "New Person", "role": "member"},
        headers=bearer(admin[1]),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "new@acme.example" and body["role"] == "member"
    assert set(body) == {"id", "account_id", "email", "display_name", "role", "created_at"}
    assert body["created_at"].endswith(("Z", "+00:00"))

    listed = await client.get("/api/users", headers=bearer(admin[1]))
    assert listed.status_code == 200
    assert body["id"] in {u["id"] for u in listed.json()["data"]}


async def test_duplicate_email_is_409(client, admin):
    payload = {"email": "dup@acme.example", "display_name": "D", "role": "member"}
    assert (await client.post("/api/users", json=payload, headers=bearer(admin[1]))).status_code == 201
    again = await client.post("/api/users", json=payload, headers=bearer(admin[1]))
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "display_name": "X", "role": "member"}, "email"),
        ({"email": "x@acme.example", "display_name": "X", "role": "owner"}, "role"),
        ({"email": "x@acme.example", "role": "member"}, "display_name"),
        ({"email": "x@acme.example", "display_name": "", "role": "member"}, "display_name"),
        ({"email": "x@acme.example", "display_name": "X", "is_superuser": True}, "is_superuser"),
    ],
)
async def test_invalid_user_is_422_with_the_field(client, admin, payload, field):
    response = await client.post("/api/users", json=payload, headers=bearer(admin[1]))
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


async def test_unauthenticated_is_401_json(client):
    for method, path in [("GET", "/api/me"), ("GET", "/api/users"), ("POST", "/api/users")]:
        response = await client.request(method, path, json={})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "detail" in response.json()


async def test_bad_token_is_401(client, admin):
    for value in ["Bearer nope", f"Bearer {admin[1]}x", f"Basic {admin[1]}"]:
        response = await client.get("/api/me", headers={"Authorization": value})
        assert response.status_code == 401, value


async def test_member_is_403_on_admin_routes(client, member):
    assert (await client.get("/api/users", headers=bearer(member[1]))).status_code == 403
    created = await client.post(
        "/api/users", json={"email": "y@acme.example", "display_name": "Y"}, headers=bearer(member[1])
    )
    assert created.status_code == 403
    assert created.json() == {"detail": "admin role required"}


async def test_me(client, member):
    response = await client.get("/api/me", headers=bearer(member[1]))
    assert response.status_code == 200
    assert response.json()["id"] == str(member[0]) and response.json()["role"] == "member"


async def test_users_of_another_account_are_invisible(client, admin, stranger):
    listed = await client.get("/api/users", headers=bearer(admin[1]))
    assert str(stranger[0]) not in {u["id"] for u in listed.json()["data"]}
    for method, path in [
        ("GET", f"/api/users/{stranger[0]}"),
        ("POST", f"/api/users/{stranger[0]}/tokens"),
        ("GET", f"/api/users/{stranger[0]}/tokens"),
    ]:
        response = await client.request(method, path, json={"name": "x"}, headers=bearer(admin[1]))
        assert response.status_code == 404, path


async def test_token_is_shown_once_and_never_as_a_hash(client, admin, member):
    created = await client.post(
        f"/api/users/{member[0]}/tokens", json={"name": "laptop"}, headers=bearer(admin[1])
    )
    assert created.status_code == 201
    issued = created.json()
    assert set(issued) == {"id", "name", "token", "created_at", "expires_at"} and issued["name"] == "laptop"
    token = issued["token"]
    token_hash = hashlib.sha256(token.encode()).hexdigest()

    me = await client.get("/api/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["id"] == str(member[0])

    responses = [
        await client.get(f"/api/users/{member[0]}/tokens", headers=bearer(admin[1])),
        await client.get(f"/api/users/{member[0]}/tokens", headers=bearer(token)),
        await client.get("/api/users", headers=bearer(admin[1])),
        await client.get(f"/api/users/{member[0]}", headers=bearer(token)),
        me,
    ]
    for response in responses:
        assert response.status_code == 200
        assert token not in response.text and token_hash not in response.text
        assert "hash" not in response.text
    listed = responses[0].json()["data"]
    assert {t["name"] for t in listed} == {"test", "laptop"}
    assert all(set(t) == {"id", "name", "created_at", "last_used_at", "expires_at"} for t in listed)


async def test_a_read_only_request_records_the_tokens_last_use(client, member, engine):
    assert (await client.get("/api/me", headers=bearer(member[1]))).status_code == 200

    # Committed by the authentication itself, not rolled back with the read-only route's session (nor
    # kept uncommitted, holding SQLite's write lock, for the rest of the request).
    with session_scope(engine) as session:
        used = session.scalars(select(ApiToken.last_used_at).where(ApiToken.user_id == member[0])).all()
    assert used and all(used)


async def test_member_manages_only_own_tokens(client, admin, member):
    own = await client.post(
        f"/api/users/{member[0]}/tokens", json={"name": "mine"}, headers=bearer(member[1])
    )
    assert own.status_code == 201
    other = await client.post(
        f"/api/users/{admin[0]}/tokens", json={"name": "theirs"}, headers=bearer(member[1])
    )
    assert other.status_code == 403
    admin_token_id = (await client.get(f"/api/users/{admin[0]}/tokens", headers=bearer(admin[1]))).json()[
        "data"
    ][0]["id"]
    delete = await client.delete(f"/api/users/{admin[0]}/tokens/{admin_token_id}", headers=bearer(member[1]))
    assert delete.status_code == 403


async def test_deleted_token_stops_working(client, admin, member):
    issued = (
        await client.post(f"/api/users/{member[0]}/tokens", json={"name": "temp"}, headers=bearer(admin[1]))
    ).json()
    path = f"/api/users/{member[0]}/tokens/{issued['id']}"
    deleted = await client.delete(path, headers=bearer(member[1]))
    assert deleted.status_code == 204
    assert (await client.get("/api/me", headers=bearer(issued["token"]))).status_code == 401
    assert (await client.delete(path, headers=bearer(member[1]))).status_code == 404


async def test_token_name_is_required_and_ids_are_validated(client, admin):
    missing = await client.post(f"/api/users/{admin[0]}/tokens", json={}, headers=bearer(admin[1]))
    assert missing.status_code == 422
    bad_id = await client.get("/api/users/not-a-uuid/tokens", headers=bearer(admin[1]))
    assert bad_id.status_code == 422
