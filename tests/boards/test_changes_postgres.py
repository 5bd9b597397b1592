"""Board changes (boards/changes.py) on a real PostgreSQL, where unique titles are checked per statement
and concurrent writers wait on row locks: swaps and reused titles never collide midway, items move, and
an item written into a group while that group is being removed waits and then fails loudly instead of
being cascade-deleted with the group."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from boards.change_schemas import BoardChange
from boards.changes import change_board
from boards.draft import ItemDraft
from boards.store import BoardStore
from db.accounts import User
from db.boards import BoardItem
from db.engine import create_db_engine, session_factory, session_scope
from db.migrate import upgrade_to_head
from tests.db.postgres_server import available, running_postgres
from tests.recipes.support import add_board
from tests.support.appdb import add_user

pytestmark = pytest.mark.skipif(
    not available(), reason="PostgreSQL server binaries (initdb, pg_ctl) not installed"
)

BOARD = {
    "name": "Support",
    "groups": ["New", "Later"],
    "columns": [{"title": "From", "type": "email"}, {"title": "Notes", "type": "text"}],
}


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with running_postgres() as url:
        engine = create_db_engine(url)
        upgrade_to_head(engine)
        yield engine
        engine.dispose()


def _setup(engine: Engine) -> tuple[uuid.UUID, uuid.UUID, BoardStore]:
    user_id, _ = add_user(engine, account_name=f"acme-{uuid.uuid4()}", role="admin")
    board = add_board(engine, user_id, BOARD)
    with session_scope(engine) as session:
        account_id = session.get_one(User, user_id).account_id
    return account_id, board.id, BoardStore(engine)


def _item(store: BoardStore, board_id: uuid.UUID, n: int, group: str = "New") -> str:
    draft = ItemDraft(name=f"item {n}", group=group, columns={"From": f"a{n}@b.example"})
    item_id, _ = store.create_item_once(
        recipe_id="r",
        message_id=f"m{n}-{uuid.uuid4()}",
        connection_id="c",
        draft=draft,
        board_id=str(board_id),
    )
    return item_id


def test_swaps_reused_titles_and_moved_items(engine):
    account_id, board_id, store = _setup(engine)
    for n in range(3):
        _item(store, board_id, n)
    body = BoardChange.model_validate(
        {
            "changes": [
                {"op": "rename_group", "group": "New", "title": "Tmp"},
                {"op": "rename_group", "group": "Later", "title": "New"},
                {"op": "rename_group", "group": "Tmp", "title": "Later"},
                {"op": "remove_column", "column": "Notes"},
                {"op": "add_column", "title": "Notes", "type": "long_text"},
                {"op": "remove_group", "group": "Later", "move_items_to": "Fresh"},
                {"op": "add_group", "title": "Fresh"},
            ]
        }
    )
    with session_scope(engine) as session:
        changed = change_board(session, account_id, board_id, body)
        assert changed is not None
        board, _plan = changed
    assert [g.title for g in board.groups] == ["New", "Fresh"]
    assert [(c.title, c.type) for c in board.columns] == [("From", "email"), ("Notes", "long_text")]
    fresh = board.groups[1].id
    with session_scope(engine) as session:
        groups = session.scalars(select(BoardItem.group_id).where(BoardItem.board_id == board_id)).all()
    assert groups == [fresh] * 3


def test_an_item_written_into_a_group_being_removed_waits_and_fails(engine):
    account_id, board_id, store = _setup(engine)
    _item(store, board_id, 0)
    body = BoardChange.model_validate(
        {"changes": [{"op": "remove_group", "group": "New", "move_items_to": "Later"}]}
    )
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(_item(store, board_id, 1))
        except Exception as err:  # collected: the assertion below names it
            outcome.append(err)

    with session_factory(engine)() as session:
        assert change_board(session, account_id, board_id, body) is not None
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        # The insert waits on the group row this transaction holds.
        assert writer.is_alive()
        session.commit()
    writer.join(10)
    # A foreign key violation: the activity retries, finds no group and fails the recipe with the reason.
    assert len(outcome) == 1 and isinstance(outcome[0], Exception)
    with session_scope(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(BoardItem).where(BoardItem.board_id == board_id)
        )
    assert count == 1
