"""Connecting asks Microsoft for what the user chose and nothing more, and never for the password.

The real app (its lifespan: MSAL against the emulator, OpenBao, Temporal) over ASGI: the user picks
incoming and/or outgoing, `/connect/outlook` sends the browser to the identity platform's authorize
endpoint asking for exactly those scopes (User.Read, to know whose mailbox it is, and MSAL's OpenID
scopes), the consent is given in the emulator, and the callback stores what was granted: in the
connection's row and in the tokens in Vault.
"""

from __future__ import annotations

import asyncio
import re
import types
import typing
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from config.settings import Settings
from db.connections import Connection
from db.engine import session_scope
from graph.scopes import OIDC_SCOPES
from stack.openbao import OpenBaoServer
from tests.activities.support import register_app
from tests.api.conftest import bearer
from tests.e2e.conftest import service_settings
from tests.graph.support import create_user, pre_consent, run_consent
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.emulator_server import RunningEmulator
from tests.support.servers import free_port

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "templates"
PASSWORD_WORDS = ("password", "passwd", "pwd", "passphrase")


@pytest.fixture(scope="module")
def connect_settings(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    emulator: RunningEmulator,
) -> Settings:
    """The e2e settings with an app registration of this module's own (its own redirect URI)."""
    base = service_settings(
        tmp_path_factory.mktemp("connect-scopes"),
        f"http://127.0.0.1:{free_port()}",
        temporal_env,
        openbao,
        emulator,
        queue_prefix="connect-scopes",
    )
    settings = base.model_copy(
        update={"ms_client_id": str(uuid.uuid4()), "ms_client_secret": SecretStr(uuid.uuid4().hex)}
    )
    register_app(emulator, settings)
    return settings


@pytest.fixture(scope="module")
def connect_engine(connect_settings: Settings) -> Iterator[Engine]:
    engine = migrated_engine(connect_settings)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
async def real_app(connect_settings: Settings, connect_engine: Engine) -> AsyncIterator[FastAPI]:
    app = create_app(connect_settings)
    async with app.router.lifespan_context(app):
        yield app


def asked_scopes(location: str) -> set[str]:
    return set(parse_qs(urlsplit(location).query)["scope"][0].split())


@pytest.mark.parametrize(
    ("choices", "graph_scopes"),
    [
        ("incoming", {"User.Read", "Mail.Read"}),
        ("outgoing", {"User.Read", "Mail.Send"}),
        ("incoming,outgoing", {"User.Read", "Mail.Read", "Mail.Send"}),
    ],
)
async def test_only_the_chosen_scopes_are_asked_for_and_stored(
    real_app: FastAPI,
    connect_settings: Settings,
    connect_engine: Engine,
    emulator: RunningEmulator,
    choices: str,
    graph_scopes: set[str],
) -> None:
    _user_id, token = await asyncio.to_thread(add_user, connect_engine, account_name=uuid.uuid4().hex[:8])
    email = await create_user(emulator)
    transport = httpx.ASGITransport(app=real_app)
    async with httpx.AsyncClient(transport=transport, base_url=connect_settings.public_base) as browser:
        start = await browser.post("/connect/outlook", data={"scopes": choices}, headers=bearer(token))
        assert start.status_code == 303, start.text
        location = start.headers["location"]
        # The browser goes to Microsoft's sign-in: the password is typed there, never on a page of ours.
        authority = urlsplit(connect_settings.ms_authority)
        sent_to = urlsplit(location)
        assert (sent_to.scheme, sent_to.netloc) == (authority.scheme, authority.netloc)
        assert sent_to.path == f"{authority.path}/oauth2/v2.0/authorize"
        # Exactly the chosen Graph scopes (and the OpenID ones MSAL adds), nothing the user did not pick.
        assert asked_scopes(location) - OIDC_SCOPES == graph_scopes
        assert asked_scopes(location) & OIDC_SCOPES <= {"openid", "profile", "offline_access"}

        # The user consents to what was asked; Microsoft sends the browser back with a code.
        await pre_consent(emulator, email, sorted(graph_scopes))
        callback = await run_consent(emulator, location, connect_settings.oauth_redirect_uri)
        assert set(callback) >= {"code", "state"} and not {k for k in callback if "pass" in k.lower()}
        done = await browser.get("/oauth/callback", params=callback, headers=bearer(token))
        assert done.status_code == 303, done.text
        connection_id = done.headers["location"].rsplit("/", 1)[1]

    try:
        with session_scope(connect_engine) as session:
            row = session.get(Connection, uuid.UUID(connection_id))
            assert row is not None
            assert set(row.scopes.split()) - OIDC_SCOPES == graph_scopes
        stored = await real_app.state.token_store.load(connection_id)
        assert set(stored.scopes) - OIDC_SCOPES == graph_scopes
        assert stored.mailbox == email
    finally:
        # No worker serves this test's queue: the started connection workflow is ended here.
        handle = real_app.state.temporal_client.get_workflow_handle(f"connection/{connection_id}")
        await handle.terminate("test over")


# ----- never the password -------------------------------------------------------------------------


def _model_field_names(annotation: Any, seen: set[type]) -> Iterator[str]:
    """Every field name and alias of the pydantic models an annotation holds (nested, in lists, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, info in annotation.model_fields.items():
            yield name
            if info.alias:
                yield info.alias
            yield from _model_field_names(info.annotation, seen)
        return
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            yield from _model_field_names(arg, seen)


def _params(dependant: Dependant) -> Iterator[Any]:
    """The dependant's own parameters and those of every dependency it has, however deep."""
    yield from dependant.path_params
    yield from dependant.query_params
    yield from dependant.header_params
    yield from dependant.cookie_params
    yield from dependant.body_params
    for sub in dependant.dependencies:
        yield from _params(sub)


def accepted_names(app: FastAPI) -> dict[str, set[str]]:
    """Route path -> every name it accepts: path, query, header, cookie, form and body fields."""
    found: dict[str, set[str]] = {}
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        names = found.setdefault(f"{sorted(route.methods or ())} {route.path}", set())
        # The route as included: its own parameters and those of its router's dependencies.
        for param in _params(route.dependant):
            names |= {param.name, param.alias}
            names |= set(_model_field_names(param.field_info.annotation, set()))
    return found


def asking_for_a_password(app: FastAPI) -> dict[str, set[str]]:
    return {
        route: hits
        for route, names in accepted_names(app).items()
        if (hits := {n for n in names if any(w in n.lower() for w in PASSWORD_WORDS)})
    }


class _Credentials(BaseModel):
    user: str
    secret: str = Field(alias="mailboxPassword")


class _Login(BaseModel):
    credentials: list[_Credentials] | None = None


def test_the_route_walk_finds_a_password_wherever_it_is_declared() -> None:
    """What the test below relies on: a password as a form field, a query parameter or a nested body
    field is found."""

    probe = FastAPI()

    @probe.post("/form")
    def form(password: str = Form()) -> None: ...

    @probe.get("/query")
    def query(pwd: str) -> None: ...

    @probe.post("/nested")
    def nested(login: _Login) -> None: ...

    assert asking_for_a_password(probe) == {
        "['POST'] /form": {"password"},
        "['GET'] /query": {"pwd"},
        "['POST'] /nested": {"mailboxPassword"},
    }


def test_no_route_or_page_of_the_app_takes_a_password(tmp_path: Path) -> None:
    """The service never asks for a mailbox's (or anyone's) password: no route accepts a field named so
    and no page has an input named so (the service's own sign-in takes an API token)."""
    app = create_app(make_settings(tmp_path))
    walked = accepted_names(app)
    assert len(walked) > 50 and any("/connect/outlook" in r for r in walked), "the walk saw the routes"
    assert asking_for_a_password(app) == {}
    named = {
        (page.name, name)
        for page in TEMPLATES.rglob("*.html")
        for name in re.findall(r"""name=["']([^"']+)["']""", page.read_text())
    }
    assert ("signin.html", "token") in named, "the scan saw the pages' inputs"
    assert {(page, name) for page, name in named if any(w in name.lower() for w in PASSWORD_WORDS)} == set()
