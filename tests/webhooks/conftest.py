from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from tests.recipes.support import add_connection
from tests.support.appdb import add_user, make_settings, migrated_engine


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
