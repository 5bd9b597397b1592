"""Reply threading on the built-in store: the item a conversation belongs to, recorded with the item in one
transaction, and ThreadTaken when two messages of one conversation race to create it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from boards.destination import ThreadTaken
from boards.draft import ItemDraft
from boards.errors import BoardStoreError, GroupNotFound
from boards.schemas import BoardPublic
from boards.store import BoardStore
from db.board_events import BoardEvent
from db.boards import BoardItem, LedgerEntry
from db.engine import session_scope
from db.item_threads import ItemThread
from tests.boards.conftest import count

DRAFT = ItemDraft(name="Invoice question", group="New", columns={"From": "a@customer.example"})
KEYS = ["conversation:AAQkAD", "message:<original@customer.example>"]


def _create(
    store: BoardStore,
    board: BoardPublic,
    message_id: str,
    keys: Sequence[str] = KEYS,
    recipe_id: str = "r1",
    draft: ItemDraft = DRAFT,
) -> tuple[str, bool]:
    return store.create_item_once(
        recipe_id=recipe_id,
        message_id=message_id,
        connection_id="c1",
        draft=draft,
        board_id=str(board.id),
        thread_keys=keys,
    )


def test_the_thread_keys_become_the_items(store, board, engine):
    item_id, created = _create(store, board, "m1")
    assert created
    with session_scope(engine) as session:
        rows = session.scalars(select(ItemThread).order_by(ItemThread.thread_key)).all()
    assert [(r.recipe_id, r.thread_key, r.target_id) for r in rows] == [
        ("r1", KEYS[0], item_id),
        ("r1", KEYS[1], item_id),
    ]
    assert store.item_for_thread("r1", ["message:<other@x>", KEYS[1]]) == item_id
    assert store.item_for_thread("r1", ["message:<other@x>"]) is None
    assert store.item_for_thread("r1", []) is None
    # Threads belong to a recipe: another recipe's message of the conversation makes its own item.
    assert store.item_for_thread("r2", KEYS) is None
    assert _create(store, board, "m1", recipe_id="r2")[1] is True


def test_a_second_message_of_the_conversation_is_told_whose_thread_it_is(store, board, engine):
    item_id, _ = _create(store, board, "m1")
    with pytest.raises(ThreadTaken) as taken:
        _create(store, board, "m2", keys=[KEYS[0], "message:<reply@customer.example>"])
    assert taken.value.item_id == item_id
    # A signal to the caller, not a broken board: a BoardStoreError handler must not swallow it.
    assert not isinstance(taken.value, BoardStoreError)
    # Nothing of m2 was written: no item, no ledger row (so the update can claim it), no event, no key.
    assert count(engine, BoardItem) == 1 and count(engine, LedgerEntry) == 1
    assert count(engine, BoardEvent) == 1 and count(engine, ItemThread) == 2
    update_id, created = store.add_update_once(
        recipe_id="r1", message_id="m2", connection_id="c1", item_id=item_id, body="the reply"
    )
    assert created and store.created_for("r1", "m2") == update_id


def test_a_repeat_of_the_first_message_is_answered_by_the_ledger(store, board):
    item_id, _ = _create(store, board, "m1")
    assert _create(store, board, "m1") == (item_id, False)


def test_a_deleted_items_conversation_starts_afresh(store, board, engine):
    first, _ = _create(store, board, "m1")
    with session_scope(engine) as session:
        session.execute(delete(BoardItem).where(BoardItem.id == uuid.UUID(first)))
    assert store.item_for_thread("r1", KEYS) is None
    second, created = _create(store, board, "m2")
    assert created and second != first
    assert store.item_for_thread("r1", KEYS) == second


def test_a_failed_create_records_no_thread(store, board, engine):
    with pytest.raises(GroupNotFound):
        _create(store, board, "m1", draft=ItemDraft(name="x", group="Gone"))
    assert count(engine, ItemThread) == 0 and count(engine, LedgerEntry) == 0


def test_keys_longer_than_the_column_still_match(store, board):
    long_key = "message:<" + "x" * 2000 + "@customer.example>"
    item_id, _ = _create(store, board, "m1", keys=[long_key])
    assert store.item_for_thread("r1", [long_key]) == item_id
    assert store.item_for_thread("r1", [long_key[:-1]]) is None


@pytest.mark.parametrize("workers", [2, 6])
def test_concurrent_messages_of_one_conversation_make_one_item(store, board, engine, workers):
    barrier = threading.Barrier(workers)
    created: list[str] = []
    taken: list[str] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            item_id, was_created = _create(store, board, f"m{n}", keys=[KEYS[0], f"message:<{n}@x>"])
            assert was_created
            created.append(item_id)
        except ThreadTaken as err:
            taken.append(err.item_id)
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(created) == 1 and taken == created * (workers - 1)
    assert count(engine, BoardItem) == 1 and count(engine, LedgerEntry) == 1
    assert store.item_for_thread("r1", [KEYS[0]]) == created[0]


def test_a_key_taken_between_the_check_and_the_insert_still_raises_thread_taken(store, board, engine):
    class BlindCheck(BoardStore):
        """Its in-transaction look-up runs before the other message commits: the key's primary key
        must catch it."""

        def __init__(self, engine: Engine) -> None:
            super().__init__(engine)
            self.blind = True

        def _threads(self, session: Session, recipe_id: str, keys: list[str]) -> dict[str, str]:
            if self.blind:
                self.blind = False
                return {}
            return super()._threads(session, recipe_id, keys)

    winner, _ = _create(store, board, "m1")
    late = BlindCheck(engine)
    with pytest.raises(ThreadTaken) as taken:
        _create(late, board, "m2")
    assert taken.value.item_id == winner and not late.blind
    assert count(engine, BoardItem) == 1 and count(engine, LedgerEntry) == 1
