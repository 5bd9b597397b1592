"""BoardStore on a real SQLite file: exactly one item per (recipe, message), also under concurrency, and
nothing half-written when the board does not fit."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlalchemy import Engine, func, select

from boards.draft import ItemDraft
from boards.errors import BoardNotFound, ColumnNotFound, GroupNotFound, ItemNotFound
from boards.schemas import BoardPublic
from boards.store import BoardStore
from db.base import Base
from db.boards import BoardColumn, BoardItem, ItemUpdate, LedgerEntry
from db.engine import session_scope
from tests.recipes.support import add_board
from tests.support.appdb import add_user, make_settings, migrated_engine

DRAFT = ItemDraft(
    name="Need help", group="New", columns={"From": "a@customer.example", "Received": "2026-11-30T04:00:00Z"}
)


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def board(engine):
    user_id, _ = add_user(engine)
    return add_board(engine, user_id)


@pytest.fixture
def store(engine):
    return BoardStore(engine)


def _count(engine: Engine, model: type[Base]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _create(
    store: BoardStore,
    board: BoardPublic,
    message_id: str = "m1",
    recipe_id: str = "r1",
    draft: ItemDraft = DRAFT,
) -> tuple[str, bool]:
    return store.create_item_once(
        recipe_id=recipe_id, message_id=message_id, connection_id="c1", draft=draft, board_id=str(board.id)
    )


def test_create_item_once_writes_item_and_ledger(store, board, engine):
    item_id, created = _create(store, board)
    assert created
    with session_scope(engine) as session:
        item = session.get_one(BoardItem, uuid.UUID(item_id))
        columns = {str(c.id): c.title for c in session.scalars(select(BoardColumn))}
        values = {columns[k]: v for k, v in json.loads(item.column_values).items()}
        [entry] = session.scalars(select(LedgerEntry)).all()
    assert item.name == "Need help" and item.board_id == board.id
    assert values == DRAFT.columns
    assert (entry.recipe_id, entry.message_id, entry.kind, entry.target_id) == ("r1", "m1", "item", item_id)
    assert store.created_for("r1", "m1") == item_id


def test_second_call_returns_the_same_item(store, board, engine):
    first, _ = _create(store, board)
    again, created = _create(store, board, draft=ItemDraft(name="other", group="New"))
    assert (again, created) == (first, False)
    assert _count(engine, BoardItem) == 1


def test_key_is_recipe_and_message(store, board, engine):
    ids = {_create(store, board, message_id=m, recipe_id=r)[0] for m in ("m1", "m2") for r in ("r1", "r2")}
    assert len(ids) == 4 and _count(engine, BoardItem) == 4


@pytest.mark.parametrize("workers", [2, 8])
def test_concurrent_calls_for_one_key_make_one_item(store, board, engine, workers):
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(_create(store, board))
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({item_id for item_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (workers - 1) + [True]
    assert _count(engine, BoardItem) == 1 and _count(engine, LedgerEntry) == 1


def test_two_stores_on_separate_engines_agree(board, engine, tmp_path):
    # Like two worker processes: separate engines (connection pools) on the same database file.
    from db.engine import create_db_engine

    other_engine = create_db_engine(str(engine.url))
    try:
        first = _create(BoardStore(engine), board)
        second = _create(BoardStore(other_engine), board)
    finally:
        other_engine.dispose()
    assert first[0] == second[0] and (first[1], second[1]) == (True, False)


@pytest.mark.parametrize(
    ("draft", "error", "says"),
    [
        (ItemDraft(name="x", group="Done"), GroupNotFound, "has no group 'Done'"),
        (ItemDraft(name="x", group="New", columns={"Owner": "y"}), ColumnNotFound, "has no column 'Owner'"),
    ],
)
def test_a_board_that_does_not_fit_writes_nothing(store, board, engine, draft, error, says):
    with pytest.raises(error, match=says):
        _create(store, board, draft=draft)
    # Neither the item nor the ledger row: the same message can still be processed once the recipe is fixed.
    assert _count(engine, BoardItem) == 0 and _count(engine, LedgerEntry) == 0
    assert _create(store, board)[1] is True


@pytest.mark.parametrize("board_id", ["not-a-uuid", "7b0a4d0e-4f7e-4b8a-9d1c-0f0e0d0c0b0a"])
def test_unknown_board(store, engine, board_id):
    with pytest.raises(BoardNotFound):
        store.create_item_once(
            recipe_id="r", message_id="m", connection_id="c", draft=DRAFT, board_id=board_id
        )
    assert _count(engine, LedgerEntry) == 0


def test_long_names_are_cut_to_the_column(store, board, engine):
    _create(store, board, draft=ItemDraft(name="x" * 2000, group="New"))
    with session_scope(engine) as session:
        assert len(session.scalars(select(BoardItem)).one().name) == 500


def test_add_update_once(store, board, engine):
    item_id, _ = _create(store, board)
    kwargs = {"recipe_id": "r2", "message_id": "m2", "connection_id": "c1", "item_id": item_id}
    update_id, created = store.add_update_once(**kwargs, body="a reply arrived")
    assert created
    assert store.add_update_once(**kwargs, body="again") == (update_id, False)
    with session_scope(engine) as session:
        [update] = session.scalars(select(ItemUpdate)).all()
        assert update.body == "a reply arrived" and str(update.item_id) == item_id
    missing = {**kwargs, "message_id": "m3", "item_id": "7b0a4d0e-4f7e-4b8a-9d1c-0f0e0d0c0b0a"}
    with pytest.raises(ItemNotFound):
        store.add_update_once(**missing, body="x")
    assert _count(engine, LedgerEntry) == 2


class _LateReader(BoardStore):
    """Its first ledger read happens before the other writer commits: the claim itself must catch it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.reads = 0

    def created_for(self, recipe_id: str, message_id: str) -> str | None:
        self.reads += 1
        return None if self.reads == 1 else super().created_for(recipe_id, message_id)


def test_a_call_that_lost_the_race_returns_the_winners_item(store, board, engine):
    winner, _ = _create(store, board)
    late = _LateReader(engine)
    assert _create(late, board) == (winner, False)
    assert late.reads == 2  # the pre-check said "nothing yet", the primary key said otherwise
    assert _count(engine, BoardItem) == 1
