"""The web's promises (issue 12): CSRF on every cookie-authenticated state change, session cookies that
are rotated at sign-in and ended at sign-out, security headers on every page, no inline script, escaped
pages, and sign-in attempts limited per client."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from accounts.sessions import SESSION_COOKIE, cookie_params
from api.csrf import EXEMPT_PREFIXES
from api.deps import get_optional_user
from api.main import create_app
from api.signin_limit import MAX_FAILURES, WINDOW_SECONDS, SigninLimiter
from api.templating import templates
from db.accounts import User
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.support.appdb import add_user, make_settings

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "templates"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
BOARD = {"name": "Billing", "groups": ["New"], "columns": []}


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    """Signs in; returns the CSRF token that the home page's forms carry."""
    response = await client.post("/signin", data={"token": token})
    assert response.status_code == 303, response.text
    home = await client.get("/")
    match = CSRF_INPUT.search(home.text)
    assert match, "the signed-in home page has a form with the CSRF token"
    return match.group(1)


def _uses_cookie_auth(dependant: Dependant) -> bool:
    return any(d.call is get_optional_user or _uses_cookie_auth(d) for d in dependant.dependencies)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as their own routes; main.py
    includes them without a prefix, so a route's path is its full path)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif getattr(route, "original_router", None) is not None:
            yield from api_routes(route.original_router.routes)


def cookie_authenticated_state_changes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path with made-up ids) of every route that a session cookie may authenticate."""
    for route in api_routes(app.routes):
        if route.path.startswith(EXEMPT_PREFIXES):
            continue  # the codec server: exempt, and tested below
        if _uses_cookie_auth(route.dependant):
            for method in sorted((route.methods or set()) & UNSAFE):
                yield method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)


# --- CSRF -------------------------------------------------------------------------------------------


async def test_every_cookie_authenticated_state_change_needs_the_csrf_token(app, client, admin):
    # What the lifespan would build: never reached, the refusal comes first (the routes ask for these
    # before they ask for the user).
    for name in ("temporal_client", "identity", "token_store", "mailbox_access", "monday_tokens"):
        setattr(app.state, name, object())
    await sign_in(client, admin[1])
    routes = list(cookie_authenticated_state_changes(app))
    # The generated list is the app's: a new state-changing route joins it by itself.
    assert ("POST", "/api/boards") in routes and ("POST", "/signout") not in routes
    assert any(path.endswith("/disconnect") for _, path in routes)
    assert len(routes) >= 15
    for method, path in routes:
        response = await client.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert "CSRF token missing or wrong" in response.json()["detail"], (method, path)


async def test_the_session_token_in_a_header_or_form_field_lets_the_change_through(client, admin):
    csrf = await sign_in(client, admin[1])
    made = await client.post("/api/boards", json=BOARD, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    assert (
        await client.post("/api/boards", json=BOARD, headers={"X-CSRF-Token": "0" * 64})
    ).status_code == 403
    # Nothing was made by the refused request.
    listed = (await client.get("/api/boards")).json()
    assert [b["name"] for b in listed["data"]] == ["Billing"]


async def test_a_token_from_another_session_is_refused(app, admin, member):
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as first,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as second,
    ):
        first_csrf = await sign_in(first, admin[1])
        second_csrf = await sign_in(second, member[1])
        assert first_csrf != second_csrf
        refused = await second.post("/api/boards", json=BOARD, headers={"X-CSRF-Token": first_csrf})
        assert refused.status_code == 403


def test_only_the_codec_server_is_exempt():
    """The Temporal UI calls it cross-origin with the cookie and cannot know our token; it changes no
    state and takes only application/json, which needs a CORS preflight only the UI's origin passes
    (tests/api/test_codec_server.py)."""
    assert EXEMPT_PREFIXES == ("/codec/",)


async def test_bearer_calls_need_no_csrf_token_even_with_a_cookie(client, admin):
    await sign_in(client, admin[1])
    made = await client.post("/api/boards", json=BOARD, headers=bearer(admin[1]))
    assert made.status_code == 201, made.text


async def test_signout_needs_the_token_and_a_forged_one_leaves_the_session_alive(client, admin):
    csrf = await sign_in(client, admin[1])
    forged = await client.post("/signout")
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    assert (await client.get("/api/me")).status_code == 200
    assert (await client.post("/signout", data={"csrf_token": csrf})).status_code == 303
    assert (await client.get("/api/me")).status_code == 401


def test_the_disconnect_and_reconnect_forms_carry_the_token():
    # The templates themselves are what is checked here (tests/api/test_connection_pages.py renders them).
    for page, action in (
        ("connection_disconnect.html", 'action="/connections/{{ c.id }}/disconnect"'),
        ("connection.html", 'action="/connections/{{ c.id }}/reconnect"'),
    ):
        source = (TEMPLATES / page).read_text()
        form = source[source.index(action) :]
        assert (
            '<input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">'
            in form.split("</form>")[0]
        ), page


async def test_cross_site_sign_in_is_refused(client, admin):
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        response = await client.post("/signin", data={"token": admin[1]}, headers=headers)
        assert response.status_code == 403, headers
        assert "cross-" in response.json()["detail"]
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    same = await client.post(
        "/signin",
        data={"token": admin[1]},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303


# --- Session cookies ---------------------------------------------------------------------------------


async def test_sign_in_rotates_the_session_and_ends_the_one_the_browser_had(client, admin, member):
    await sign_in(client, admin[1])
    before = client.cookies[SESSION_COOKIE]
    await sign_in(client, member[1])
    after = client.cookies[SESSION_COOKIE]
    assert after != before
    me = await client.get("/api/me")
    assert me.json()["id"] == str(member[0])
    # The old id is dead on the server, not only replaced in this browser.
    client.cookies.set(SESSION_COOKIE, before)
    assert (await client.get("/api/me")).status_code == 401


async def test_a_planted_session_id_is_worthless_after_sign_in(client, admin):
    """Session fixation: an attacker's cookie value in the victim's browser is replaced by a new one."""
    planted = "planted-session-id"
    response = await client.post(
        "/signin", data={"token": admin[1]}, headers={"Cookie": f"{SESSION_COOKIE}={planted}"}
    )
    assert response.status_code == 303
    issued = response.cookies[SESSION_COOKIE]
    assert issued and issued != planted


def test_cookie_is_secure_httponly_and_lax_outside_development(settings):
    production = settings.model_copy(update={"environment": "production"})
    params = cookie_params(production)
    assert params.secure and params.httponly and params.samesite == "lax"
    assert not cookie_params(settings).secure  # development over plain http


# --- Security headers and pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/signin", "/connections", "/api/me", "/no-such-page", "/static/app.css", "/healthz"]
)
async def test_security_headers_on_every_response(client, path):
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_signed_in_pages_carry_the_headers_too(client, admin):
    await sign_in(client, admin[1])
    for path in ("/", "/connections"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_the_api_docs_allow_exactly_their_own_inline_script(client):
    response = await client.get("/docs")
    csp = response.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert inline, "FastAPI's Swagger page starts with one inline script"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in csp


def test_no_template_has_inline_script_or_unescaped_output():
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", source):
            assert "src=" in tag, f"{template.name}: inline script (the CSP forbids it)"
        assert not re.search(r"\son[a-z]+\s*=", source), f"{template.name}: inline event handler"
        assert "<style" not in source, f"{template.name}: inline style"
        # Email content a page ever shows (subject, sender, status reasons) is escaped by Jinja.
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, template.name
    autoescape = templates.env.autoescape
    assert autoescape is True or (callable(autoescape) and autoescape("page.html"))


async def test_the_stylesheet_is_served_from_this_origin_and_connecting_needs_no_script(client):
    response = await client.get("/static/app.css")
    assert response.status_code == 200 and "text/css" in response.headers["content-type"]
    # The connect form posts its checkboxes as repeated `scope` fields: no script builds them.
    assert "<script" not in (TEMPLATES / "connections.html").read_text()


async def test_a_page_escapes_what_came_from_outside(app, client, engine):
    """The sign-in page shows no submitted value; a user name with markup is escaped on the home page."""
    user_id, token = add_user(engine, account_name="esc", role="member")
    with session_scope(engine) as session:
        session.get_one(User, user_id).display_name = '<img src=x onerror="alert(1)">'
    await sign_in(client, token)
    home = await client.get("/")
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in home.text
    assert "<img src=x" not in home.text


# --- Sign-in rate limit ------------------------------------------------------------------------------


async def test_failed_sign_ins_are_limited_per_client_with_retry_after(app, admin):
    def client_at(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with client_at("203.0.113.7") as guesser, client_at("198.51.100.2") as other:
        for _ in range(MAX_FAILURES):
            assert (await guesser.post("/signin", data={"token": "oit_guess"})).status_code == 401
        limited = await guesser.post("/signin", data={"token": "oit_guess"})
        assert limited.status_code == 429
        assert "too many failed sign-in attempts" in limited.json()["detail"]
        assert 0 < int(limited.headers["retry-after"]) <= WINDOW_SECONDS
        # While limited, even the right token is refused (else the limit would not slow a guesser).
        assert (await guesser.post("/signin", data={"token": admin[1]})).status_code == 429
        # Another client is not affected.
        assert (await other.post("/signin", data={"token": admin[1]})).status_code == 303


def test_the_limit_lifts_as_failures_leave_the_window_and_a_success_clears_it():
    now = [1000.0]
    limiter = SigninLimiter(max_failures=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("c") == 0
        limiter.failed("c")
        now[0] += 10
    assert limiter.retry_after("c") == 30  # the first failure, at 1000, leaves the window at 1060
    now[0] = 1060.0
    assert limiter.retry_after("c") == 0
    limiter.failed("c")
    assert limiter.retry_after("c") == 10
    limiter.succeeded("c")
    assert limiter.retry_after("c") == 0


async def test_cookie_secure_in_production_app(tmp_path, engine, admin):
    app = create_app(make_settings(tmp_path).model_copy(update={"environment": "production"}))
    app.state.engine = engine
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        response = await c.post("/signin", data={"token": admin[1]})
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
