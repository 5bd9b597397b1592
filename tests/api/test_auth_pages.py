"""Browser sign-in with a token: the cookie, the pages, sign-out."""

from __future__ import annotations

import re

import httpx

from accounts.sessions import SESSION_COOKIE
from api.main import create_app
from tests.support.appdb import make_settings


async def test_signin_page_has_a_form(client):
    response = await client.get("/signin")
    assert response.status_code == 200
    assert 'action="/signin"' in response.text and 'name="token"' in response.text


async def test_home_without_session_links_to_signin(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert 'href="/signin"' in response.text


async def test_bad_token_is_refused_without_echo(client):
    response = await client.post("/signin", data={"token": "oit_guess<script>"})
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "oit_guess" not in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_signin_sets_a_safe_cookie_and_signout_ends_it(client, admin):
    response = await client.post("/signin", data={"token": admin[1]})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=lax" in attributes and "max-age=28800" in attributes
    assert "secure" not in attributes  # plain http public URL in this test
    session_id = client.cookies[SESSION_COOKIE]
    assert admin[1] not in cookie and session_id != admin[1]

    home = await client.get("/")
    assert "Signed in" in home.text and "admin of acme" in home.text
    me = await client.get("/api/me")
    assert me.status_code == 200 and me.json()["id"] == str(admin[0])

    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', home.text)
    assert csrf, "the sign-out form carries the session's CSRF token"
    out = await client.post("/signout", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303
    assert (
        f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
        or "max-age=0" in out.headers["set-cookie"].lower()
    )
    # The old cookie value is dead on the server too, not only removed from this browser.
    client.cookies.set(SESSION_COOKIE, session_id)
    assert (await client.get("/api/me")).status_code == 401


async def test_cookie_is_secure_behind_https(tmp_path, engine, admin):
    app = create_app(make_settings(tmp_path, public_base_url="https://mail.example.com"))
    app.state.engine = engine
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post("/signin", data={"token": admin[1]})
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


async def test_invalid_bearer_is_not_rescued_by_a_cookie(client, admin):
    await client.post("/signin", data={"token": admin[1]})
    assert (await client.get("/api/me")).status_code == 200
    assert (await client.get("/api/me", headers={"Authorization": "Bearer wrong"})).status_code == 401
