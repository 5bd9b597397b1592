"""The access matrix (issue 12): every route of the app, called as the owner of what it names, another
member of the same account, an admin, a member of another account, anonymously, and with a revoked and
with an expired API token, answers as tests/api/access/table.py says, and nobody but the owner (and an
admin where the row allows) finds the owner's private things in an answer.

The routes come from the app itself (app.routes, included routers and mounts too): a route without a row
fails test_every_route_has_a_row, so a new endpoint cannot go unchecked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts

from accounts.sessions import SESSION_COOKIE
from api.csrf import CSRF_HEADER, SAFE_METHODS, csrf_token_for
from api.main import create_app
from config.settings import Settings
from tests.api.access.table import TABLE, Row
from tests.api.access.world import (
    ROLES,
    EngineHolder,
    World,
    app_for,
    build,
    copy_database,
    open_engine,
    settings_for,
)
from tests.support.appdb import make_settings, migrated_engine


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; a mount (static files) counts as one GET."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        methods = set(getattr(route, "methods", None) or {"GET"}) - {"HEAD"}
        found |= {(method, str(route.path)) for method in methods}
    return found


def missing_rows(routes: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(routes - TABLE.keys())


@dataclass(frozen=True)
class Matrix:
    template: Path
    world: World
    app: FastAPI
    holder: EngineHolder
    settings: Settings


# How a caller proves who it is: an API token, or a browser's session cookie with (or without) the
# session's CSRF token.
Auth = Literal["bearer", "cookie", "cookie-without-csrf"]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """The world in a migrated database to copy for each case, and the app that serves them all."""
    data_dir = tmp_path_factory.mktemp("access-template")
    settings = settings_for(data_dir, make_settings)
    engine = migrated_engine(settings)
    try:
        world = build(engine, settings)
    finally:
        engine.dispose()
    holder = EngineHolder()
    yield Matrix(data_dir / "app.db", world, app_for(settings, holder), holder, settings)


def test_every_route_has_a_row(tmp_path: Path) -> None:
    routes = app_routes(create_app(make_settings(tmp_path)))
    missing = missing_rows(routes)
    stale = sorted(TABLE.keys() - routes)
    assert not missing, f"routes without a row in tests/api/access/table.py (add one): {missing}"
    assert not stale, f"rows for routes the app no longer has: {stale}"
    assert len(routes) >= 60  # the matrix did find the included routers' routes


def test_a_new_route_would_be_missing(tmp_path: Path) -> None:
    """The check above is not vacuous: an endpoint added to the app shows up without a row."""
    app = create_app(make_settings(tmp_path))
    app.include_router(_new_router())
    assert ("POST", "/api/new-thing") in missing_rows(app_routes(app))


def _new_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/new-thing")
    def new_thing() -> None:
        """An endpoint nobody put in the table."""

    return router


def _credentials(matrix: Matrix, role: str, auth: Auth) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) of the caller: its API token, or its browser session with or without the
    session's CSRF token."""
    if auth == "bearer":
        token = matrix.world.tokens[role]
        return ({"Authorization": f"Bearer {token}"} if token else {}), {}
    session_id = matrix.world.sessions[role]
    headers = {CSRF_HEADER: csrf_token_for(matrix.settings, session_id)} if auth == "cookie" else {}
    return headers, {SESSION_COOKIE: session_id}


async def _answer(
    matrix: Matrix, data_dir: Path, row: Row, role: str, auth: Auth = "bearer"
) -> httpx.Response:
    await asyncio.to_thread(copy_database, matrix.template, data_dir)
    matrix.holder.engine = await asyncio.to_thread(open_engine, data_dir)
    try:
        call = row.request(matrix.world, role)
        headers, cookies = _credentials(matrix, role, auth)
        transport = httpx.ASGITransport(app=matrix.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as client:
            return await client.request(
                call.method, call.url, json=call.json, params=call.params, data=call.data, headers=headers
            )
    finally:
        await asyncio.to_thread(matrix.holder.engine.dispose)
        matrix.holder.engine = None


@pytest.mark.parametrize("key", sorted(TABLE), ids=[f"{m} {p}" for m, p in sorted(TABLE)])
async def test_each_caller_gets_the_expected_answer(
    matrix: Matrix, tmp_path: Path, key: tuple[str, str]
) -> None:
    row = TABLE[key]
    assert set(row.expect) == set(ROLES), f"{key}: the row must say what each of {ROLES} gets"
    wrong: list[str] = []
    for role in ROLES:
        response = await _answer(matrix, tmp_path / role, row, role)
        if response.status_code != row.expect[role]:
            wrong.append(
                f"{role}: {response.status_code} (expected {row.expect[role]}) {response.text[:200]}"
            )
        if role not in row.reveals:
            leaked = [p for p in matrix.world.private if p in response.text]
            if leaked:
                wrong.append(f"{role}: the answer shows the owner's {leaked}")
        if 400 <= response.status_code < 500 and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            if "detail" not in response.json():
                wrong.append(f"{role}: error without a detail: {response.text[:200]}")
    assert not wrong, f"{key[0]} {key[1]} ({row.why or 'no note'}):\n" + "\n".join(wrong)


SIGNED_IN = ("owner", "member", "admin", "outsider")
# Routes no session authenticates: sign-in (checked by its Origin), the webhooks (by what they carry) and
# the codec server (the Temporal UI's calls; JSON only, so a cross-site form cannot reach it).
NO_SESSION_CSRF = ("/signin", "/webhooks/", "/codec/")


@pytest.mark.parametrize("key", sorted(TABLE), ids=[f"{m} {p}" for m, p in sorted(TABLE)])
async def test_a_signed_in_browser_gets_what_the_api_token_gets(
    matrix: Matrix, tmp_path: Path, key: tuple[str, str]
) -> None:
    """The same matrix through the session cookie a page sign-in sets (with the page's CSRF token on
    state-changing calls): every user gets exactly what their API token gets, and sees no more."""
    row = TABLE[key]
    wrong: list[str] = []
    for role in SIGNED_IN:
        response = await _answer(matrix, tmp_path / role, row, role, "cookie")
        if response.status_code != row.expect[role]:
            wrong.append(
                f"{role}: {response.status_code} (expected {row.expect[role]}) {response.text[:200]}"
            )
        if role not in row.reveals and (leaked := [p for p in matrix.world.private if p in response.text]):
            wrong.append(f"{role}: the answer shows the owner's {leaked}")
    assert not wrong, f"{key[0]} {key[1]} by session cookie:\n" + "\n".join(wrong)


UNSAFE = sorted(k for k in TABLE if k[0] not in SAFE_METHODS and not k[1].startswith(NO_SESSION_CSRF))


@pytest.mark.parametrize("key", UNSAFE, ids=[f"{m} {p}" for m, p in UNSAFE])
async def test_a_session_cookie_without_the_csrf_token_changes_nothing(
    matrix: Matrix, tmp_path: Path, key: tuple[str, str]
) -> None:
    """What another site could make a signed-in browser send (the cookie, but not the page's CSRF
    token) is refused before the route runs, for every state-changing route."""
    response = await _answer(matrix, tmp_path / "owner", TABLE[key], "owner", "cookie-without-csrf")
    assert response.status_code == 403, (key, response.status_code, response.text[:200])
    assert "CSRF token missing or wrong" in response.json()["detail"]
