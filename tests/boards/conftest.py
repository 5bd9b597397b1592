"""A migrated SQLite database per test, a board on it (the issue's Support board plus a status, a number
and a link column) and the board store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from boards.store import BoardStore
from db.base import Base
from db.engine import session_scope
from tests.recipes.support import SUPPORT_BOARD, add_board
from tests.support.appdb import add_user, make_settings, migrated_engine

BOARD: dict[str, Any] = {
    **SUPPORT_BOARD,
    "groups": ["New", "Done"],
    "columns": [
        *SUPPORT_BOARD["columns"],
        {"title": "Status", "type": "status", "labels": ["New", "Working on it", "Done"]},
        {"title": "Amount", "type": "number"},
        {"title": "Link", "type": "link"},
        {"title": "Subject", "type": "text"},
    ],
}


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def board(engine):
    user_id, _ = add_user(engine)
    return add_board(engine, user_id, BOARD)


@pytest.fixture
def store(engine):
    return BoardStore(engine)


def count(engine: Engine, model: type[Base]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0
