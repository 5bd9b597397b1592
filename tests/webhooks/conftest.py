from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine

from tests.recipes.support import add_connection
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.webhooks.support import ClientStates, webhook_app


@pytest.fixture(autouse=True)
def _event_loop_never_blocked(no_loop_stalls: None) -> None:
    """Every test here fails if one callback held the event loop for 100 ms (tests/support/loop_stalls.py)."""


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """A migrated SQLite file, as `make run` has it."""
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def new_connection(engine: Engine) -> Callable[[], str]:
    """Makes a connection row (the outbox refers to it) and returns its id."""
    user_id, _token = add_user(engine)
    return lambda: add_connection(engine, user_id)


@pytest.fixture
def states() -> ClientStates:
    return ClientStates()


@pytest.fixture
async def setup(tmp_path, states):
    """(app, engine, client): the webhook app over a fresh database and the given clientStates."""
    settings = make_settings(tmp_path)
    engine = await asyncio.to_thread(migrated_engine, settings)
    app = webhook_app(settings, engine, states)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield app, engine, client
    engine.dispose()
