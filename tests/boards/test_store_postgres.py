"""The ledger and the activity log on a real PostgreSQL: the production database of docker-compose.

Concurrent writers block on the primary key there (not on a database lock as in SQLite), so the
"exactly one item" and "one outcome row" guarantees are checked on both."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import activitylog
from boards.draft import ItemDraft
from boards.store import BoardStore
from db.activity_log import MessageOutcome
from db.base import Base
from db.boards import BoardItem, LedgerEntry
from db.engine import create_db_engine, session_scope
from db.migrate import upgrade_to_head
from tests.db.postgres_server import available, running_postgres
from tests.recipes.support import add_board, add_connection
from tests.support.appdb import add_user

pytestmark = pytest.mark.skipif(
    not available(), reason="PostgreSQL server binaries (initdb, pg_ctl) not installed"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with running_postgres() as url:
        engine = create_db_engine(url)
        upgrade_to_head(engine)
        yield engine
        engine.dispose()


def _count(engine: Engine, model: type[Base]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _together(workers: int, call: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_concurrent_create_item_once_makes_one_item(engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name="pg-ledger")
    board = add_board(engine, user_id)
    store = BoardStore(engine)
    draft = ItemDraft(name="Need help", group="New", columns={"From": "a@customer.example"})
    before = _count(engine, BoardItem)

    results = _together(
        6,
        lambda: store.create_item_once(
            recipe_id="r-pg", message_id="m-pg", connection_id="c", draft=draft, board_id=str(board.id)
        ),
    )
    assert len({item_id for item_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert _count(engine, BoardItem) == before + 1
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(LedgerEntry.recipe_id == "r-pg")) == 1


def test_concurrent_outcomes_upsert_one_row(engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name="pg-log")
    connection_id = add_connection(engine, user_id)
    _together(6, lambda: activitylog.record_outcome(engine, connection_id, "m1", "processed", "ok", 1))
    activitylog.record_outcome(engine, connection_id, "m1", "failed", "later", 0)
    with session_scope(engine) as session:
        [row] = session.scalars(select(MessageOutcome).where(MessageOutcome.message_id == "m1")).all()
        assert (row.outcome, row.reason, row.items_created) == ("failed", "later", 0)
    assert activitylog.processed_message_ids(engine, connection_id, ["m1", "m2"]) == {"m1"}
