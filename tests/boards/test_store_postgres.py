"""The ledger, reply threads, column changes, files and the activity log on a real PostgreSQL: the
production database of docker-compose.

Concurrent writers block on the primary key or the row there (not on a database lock as in SQLite), so
the "exactly one item", "one item per conversation", "no lost change" and "one outcome row" guarantees
are checked on both."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import activitylog
from boards import items
from boards.destination import FileDraft, ThreadTaken
from boards.draft import ItemDraft
from boards.store import BoardStore
from db.activity_log import MessageOutcome
from db.base import Base
from db.board_events import BoardEvent
from db.boards import Board, BoardItem, LedgerEntry
from db.engine import create_db_engine, session_scope
from db.item_files import ItemFile
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


def _together(workers: int, call: Callable[[], Any], expected: tuple[type[Exception], ...] = ()) -> list[Any]:
    """Results of `call` run by `workers` threads at once; an expected exception counts as a result."""
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        except expected as err:
            results.append(err)
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


def test_concurrent_messages_of_one_conversation_make_one_item(engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name="pg-threads")
    board = add_board(engine, user_id)
    store = BoardStore(engine)
    draft = ItemDraft(name="Invoice", group="New")
    before = _count(engine, BoardItem)
    counter = iter(range(100))

    def create() -> tuple[str, bool]:
        n = next(counter)
        return store.create_item_once(
            recipe_id="r-pg-threads",
            message_id=f"m{n}",
            connection_id="c",
            draft=draft,
            board_id=str(board.id),
            thread_keys=["conversation:pg", f"message:<{n}@x>"],
        )

    results = _together(6, create, expected=(ThreadTaken,))
    created = [r for r in results if isinstance(r, tuple)]
    taken = [r.item_id for r in results if isinstance(r, ThreadTaken)]
    assert len(created) == 1 and created[0][1] is True
    assert taken == [created[0][0]] * 5
    assert _count(engine, BoardItem) == before + 1
    assert store.item_for_thread("r-pg-threads", ["conversation:pg"]) == created[0][0]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(LedgerEntry.recipe_id == "r-pg-threads")) == 1


def test_concurrent_column_changes_lose_nothing(engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name="pg-changes")
    board = add_board(engine, user_id)
    with session_scope(engine) as session:
        item = items.create_item(session, session.get_one(Board, board.id), name="x", group="New", columns={})
        item_id = item.id
    counter = iter(range(100))

    def change() -> None:
        value = f"{next(counter)}@customer.example"
        with session_scope(engine) as session:
            items.change_item(session, session.get_one(BoardItem, item_id), columns={"From": value})

    _together(6, change)
    with session_scope(engine) as session:
        changed = session.execute(
            select(BoardEvent.old_value, BoardEvent.new_value).where(
                BoardEvent.item_id == item_id, BoardEvent.kind == "column_changed"
            )
        ).all()
    # Six changes, six events, chained: each replaced the value the one before it wrote.
    olds = sorted(old or "" for old, _ in changed)
    news = [new or "" for _, new in changed]
    assert len(changed) == 6 and len(set(news)) == 6
    assert len(set(olds)) == 6 and "" in olds and set(olds) - {""} < set(news)


def test_concurrent_attach_adds_each_file_once(engine: Engine) -> None:
    user_id, _ = add_user(engine, account_name="pg-files")
    board = add_board(engine, user_id)
    store = BoardStore(engine)
    item_id, _ = store.create_item_once(
        recipe_id="r-pg-files", message_id="m", connection_id="c", draft=ItemDraft(name="x", group="New"),
        board_id=str(board.id),
    )  # fmt: skip
    files = [FileDraft(name=n, content_type="application/pdf", content=b"%PDF") for n in ("a.pdf", "b.pdf")]
    added = _together(4, lambda: store.attach_files(item_id, files))
    assert sum(added) == 2
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).where(ItemFile.item_id == uuid.UUID(item_id))) == 2
