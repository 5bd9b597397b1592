"""BoardStore on a real SQLite file: exactly one item per (recipe, message), also under concurrency, and
nothing half-written when the board does not fit."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlalchemy import Engine, select

from boards.draft import ItemDraft
from boards.errors import BoardNotFound, ColumnNotFound, GroupNotFound, InvalidValue, ItemNotFound
from boards.schemas import BoardPublic
from boards.store import BoardStore
from db.base import Base
from db.board_events import BoardEvent
from db.boards import BoardColumn, BoardItem, ItemUpdate, LedgerEntry
from db.engine import session_scope
from tests.boards.conftest import count

DRAFT = ItemDraft(
    name="Need help", group="New", columns={"From": "a@customer.example", "Received": "2026-11-30T04:00:00Z"}
)


def _count(engine: Engine, model: type[Base]) -> int:
    return count(engine, model)


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
        (
            ItemDraft(name="x", group="Closed"),
            GroupNotFound,
            "has no group 'Closed'; its groups are: New, Done",
        ),
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


def _values(engine: Engine, item_id: str) -> dict[str, str]:
    with session_scope(engine) as session:
        item = session.get_one(BoardItem, uuid.UUID(item_id))
        columns = {str(c.id): c.title for c in session.scalars(select(BoardColumn))}
        return {columns[k]: v for k, v in json.loads(item.column_values).items()}


def test_values_from_an_email_are_typed_and_made_to_fit(store, board, engine):
    draft = ItemDraft(
        name="x",
        group="New",
        columns={
            "Subject": "folded\r\n subject",
            "Preview": "<p onclick=x>Hi</p><script>steal()</script>" + "y" * 20_000,
            "Received": "2026-11-30T06:00:00+02:00",
            "Status": "working on it",
            "Amount": "",  # a missing value renders empty: no value
        },
    )
    item_id, _ = _create(store, board, draft=draft)
    stored = _values(engine, item_id)
    assert stored["Subject"] == "folded  subject"
    assert stored["Preview"].startswith("<p>Hi</p>yyy") and 9_900 < len(stored["Preview"]) <= 10_000
    assert "script" not in stored["Preview"] and "onclick" not in stored["Preview"]
    assert stored["Received"] == "2026-11-30T04:00:00Z"
    assert stored["Status"] == "Working on it"
    assert "Amount" not in stored


def test_a_value_that_does_not_fit_its_type_writes_nothing(store, board, engine):
    draft = ItemDraft(name="x", group="New", columns={"Subject": "fine", "From": "Grace at the customer"})
    with pytest.raises(InvalidValue, match=r"column 'From' \(email\) expects an email address") as caught:
        _create(store, board, draft=draft)
    assert "Grace" not in str(caught.value)
    assert _count(engine, BoardItem) == 0 and _count(engine, LedgerEntry) == 0
    assert _count(engine, BoardEvent) == 0


def test_update_bodies_are_sanitised(store, board, engine):
    item_id, _ = _create(store, board)
    store.add_update_once(
        recipe_id="r",
        message_id="m2",
        connection_id="c",
        item_id=item_id,
        body='<p>Thanks</p><img src=x onerror="alert(1)"><a href="javascript:x">l</a>',
    )
    with session_scope(engine) as session:
        body = session.scalars(select(ItemUpdate)).one().body
    assert body == '<p>Thanks</p><a rel="noopener noreferrer nofollow">l</a>'


def test_find_item_finds_the_oldest_match_ignoring_case_and_spaces(store, board, engine):
    first, _ = _create(store, board, message_id="m1")
    _create(store, board, message_id="m2")
    other = ItemDraft(name="o", group="New", columns={"From": "ada@customer.example"})
    third, _ = _create(store, board, message_id="m3", draft=other)
    board_id = str(board.id)
    assert store.find_item(board_id, "From", "  A@CUSTOMER.example ") == first
    assert store.find_item(board_id, "from", "ada@customer.example") == third  # titles ignore case too
    assert store.find_item(board_id, "From", "nobody@customer.example") is None
    assert store.find_item(board_id, "From", "  ") is None
    assert store.find_item(board_id, "Amount", "1") is None
    with pytest.raises(ColumnNotFound, match="has no column 'Owner'; its columns are: From, Received"):
        store.find_item(board_id, "Owner", "x")
    with pytest.raises(BoardNotFound):
        store.find_item(str(uuid.uuid4()), "From", "x")


def test_builtin_boards_is_a_destination_for_the_recipes_board(store, board, engine):
    import asyncio

    from boards.builtin import BuiltinBoards
    from boards.destination import Destination, FileDraft, ThreadTaken
    from recipes.model import Recipe
    from tests.recipes.support import recipe_body

    recipe = Recipe.model_validate(
        {**recipe_body("c1", str(board.id)), "id": "r1", "owner_id": "u1", "name": "Support mail"}
    )
    destination: Destination = BuiltinBoards(store)

    async def scenario() -> None:
        written = await destination.create_item_once(
            recipe, "m1", DRAFT, ["conversation:c1", "message:<a@x>"]
        )
        assert written.created
        assert (await destination.create_item_once(recipe, "m1", DRAFT, [])).model_dump() == {
            "id": written.id,
            "created": False,
        }
        assert await destination.item_for_thread(recipe, ["message:<b@x>", "conversation:c1"]) == written.id
        with pytest.raises(ThreadTaken) as taken:
            await destination.create_item_once(recipe, "m2", DRAFT, ["conversation:c1"])
        assert taken.value.item_id == written.id
        update = await destination.add_update_once(recipe, "m2", written.id, "a reply")
        assert update.created and update.id != written.id
        assert await destination.find_item(recipe, "From", "A@customer.example") == written.id
        files = [FileDraft(name="a.txt", content_type="text/plain", content=b"hi")]
        assert await destination.attach_files(recipe, written.id, files) == 1
        assert await destination.attach_files(recipe, written.id, files) == 0

    asyncio.run(scenario())
