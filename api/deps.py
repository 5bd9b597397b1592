"""Dependencies and their Annotated aliases. The getters read what the lifespan put on app.state; tests
that run no lifespan put their stand-ins there too. (Not through `app.dependency_overrides` with a
per-test lambda: FastAPI caches facts about each dependency callable for the life of the process, so
every such lambda, and the engine it closes over, would outlive its test; tests/api/test_app_memory.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, TypeVar

import httpx
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client

from accounts.service import authenticate_token
from accounts.sessions import SESSION_COOKIE, resolve_session
from api.csrf import check_csrf, submitted_csrf_token
from config.settings import Settings
from db.accounts import Role, User
from db.engine import session_factory

T = TypeVar("T")


def app_state(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency returning what the lifespan put on app.state under `name` (async, so FastAPI calls
    it on the event loop instead of sending it to a thread)."""

    async def get(request: Request) -> T:
        value: T = getattr(request.app.state, name)
        return value

    get.__name__ = f"get_{name}"
    return get


get_app_settings = app_state("settings", Settings)
get_engine = app_state("engine", Engine)
get_temporal_client = app_state("temporal_client", Client)
get_ms_http = app_state("ms_http", httpx.AsyncClient)

SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
TemporalClientDep = Annotated[Client, Depends(get_temporal_client)]
MicrosoftHttpDep = Annotated[httpx.AsyncClient, Depends(get_ms_http)]


def get_db(engine: EngineDep) -> Iterator[Session]:
    # Routes commit what they change themselves, before answering; anything left over is rolled back.
    with session_factory(engine)() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]

bearer_scheme = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer <token>")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Browser session (sign in)")


def get_optional_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
    csrf: Annotated[str | None, Depends(submitted_csrf_token)],
) -> User | None:
    if bearer is not None:
        # An explicit token decides on its own: a bad one is never rescued by a cookie.
        user = authenticate_token(session, bearer.credentials)
        # Always: looking the user up flushes a moved-on last_used_at, leaving `session.dirty` empty, and
        # an uncommitted write would hold SQLite's write lock for the rest of the request (across the
        # awaits of an async route) and then be rolled back.
        session.commit()
        return user
    if cookie:
        user = resolve_session(session, settings, cookie)
        if user is not None:
            # A state change on the strength of a cookie alone must prove it comes from our page.
            check_csrf(request, settings, cookie, csrf)
        return user
    return None


OptionalUserDep = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUserDep) -> User:
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="not authenticated: send Authorization: Bearer <api token> or sign in",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_admin(user: CurrentUser) -> User:
    if user.role != Role.admin.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admin role required")
    return user


CurrentAdmin = Annotated[User, Depends(get_current_admin)]
