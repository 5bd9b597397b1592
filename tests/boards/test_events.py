"""Board events: written in the transaction of the change they describe (both exist or neither), one per
value that actually changed, and read and marked by the forwarder."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select

from boards import events, items
from boards.draft import ItemDraft
from boards.errors import InvalidValue
from boards.events import ColumnChange
from boards.schemas import BoardPublic
from db.board_events import BoardEvent
from db.boards import Board, BoardItem
from db.engine import session_scope
from tests.boards.conftest import count


def _item(engine: Engine, board: BoardPublic, **columns: str) -> uuid.UUID:
    with session_scope(engine) as session:
        row = items.create_item(
            session, session.get_one(Board, board.id), name="Invoice", group="New", columns=columns
        )
        return row.id


def _change(engine: Engine, item_id: uuid.UUID, **columns: str) -> list[ColumnChange]:
    with session_scope(engine) as session:
        return items.change_item(session, session.get_one(BoardItem, item_id), columns=columns)


def _events(engine: Engine, kind: str | None = None) -> Sequence[BoardEvent]:
    with session_scope(engine) as session:
        query = select(BoardEvent).order_by(BoardEvent.created_at, BoardEvent.id)
        if kind:
            query = query.where(BoardEvent.kind == kind)
        return session.scalars(query).all()


def _values(engine: Engine, board: BoardPublic, item_id: uuid.UUID) -> dict[str, str | None]:
    from boards.service import describe_items

    with session_scope(engine) as session:
        return describe_items(session, board, [session.get_one(BoardItem, item_id)])[0].columns


def test_creating_an_item_records_item_created(engine, board, store):
    item_id = _item(engine, board, Status="New")
    [event] = _events(engine)
    assert (event.kind, event.item_id, event.board_id, event.column) == (
        "item_created",
        item_id,
        board.id,
        None,
    )
    assert event.forwarded_at is None
    # The store records it too, beside the item and its ledger row.
    made, _ = store.create_item_once(
        recipe_id="r",
        message_id="m",
        connection_id="c",
        draft=ItemDraft(name="x", group="New"),
        board_id=str(board.id),
    )
    assert [str(e.item_id) for e in _events(engine, "item_created")] == [str(item_id), made]


def test_one_event_per_value_that_changed(engine, board):
    item_id = _item(engine, board, Status="New", Amount="10")
    changes = _change(engine, item_id, Status="done", Amount="10", Subject="Invoice 42")
    assert [(c.column, c.old_value, c.new_value) for c in changes] == [
        ("Status", "New", "Done"),
        ("Subject", None, "Invoice 42"),
    ]
    changed = [(e.column, e.old_value, e.new_value) for e in _events(engine, "column_changed")]
    assert sorted(changed) == [("Status", "New", "Done"), ("Subject", None, "Invoice 42")]
    # The same value again (in any spelling the type normalises) changes nothing and records nothing.
    assert _change(engine, item_id, Status="DONE", Amount="10") == []
    assert len(_events(engine, "column_changed")) == 2
    # Clearing is a change to "no value".
    _change(engine, item_id, Amount="")
    assert _events(engine, "column_changed")[-1].new_value is None
    assert _values(engine, board, item_id)["Amount"] is None


def test_an_invalid_value_after_a_valid_one_leaves_neither_change_nor_event(engine, board):
    item_id = _item(engine, board, Status="New")
    before = len(_events(engine))
    with pytest.raises(InvalidValue, match=r"column 'Amount' \(number\)"):
        _change(engine, item_id, Status="Done", Amount="lots")
    assert _values(engine, board, item_id)["Status"] == "New"
    assert len(_events(engine)) == before


def test_a_failure_after_the_write_rolls_back_the_change_and_its_events(engine, board, monkeypatch):
    # The value is written, then recording the events fails: the transaction takes both back.
    item_id = _item(engine, board, Status="New")
    before = len(_events(engine))

    original = events.record_column_changes

    def record_then_fail(session, item, changes):
        original(session, item, changes)
        session.flush()
        raise RuntimeError("database went away")

    monkeypatch.setattr(events, "record_column_changes", record_then_fail)
    with pytest.raises(RuntimeError):
        _change(engine, item_id, Status="Done")
    assert _values(engine, board, item_id)["Status"] == "New"
    assert len(_events(engine)) == before


def test_an_item_that_fails_to_be_created_leaves_no_event(engine, board, store):
    with pytest.raises(InvalidValue):
        _item(engine, board, Subject="fine", Link="not a link")
    assert count(engine, BoardItem) == 0 and count(engine, BoardEvent) == 0


def test_concurrent_changes_lose_nothing_and_each_event_names_the_value_it_replaced(engine, board):
    item_id = _item(engine, board, Amount="0")
    workers = 6
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            _change(engine, item_id, Amount=str(n + 1))
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    changed = [(e.old_value or "", e.new_value or "") for e in _events(engine, "column_changed")]
    news = [new for _, new in changed]
    assert len(changed) == workers and sorted(news) == [str(n + 1) for n in range(workers)]
    # The events chain: each replaced the value the one before it wrote, starting from "0"; the last
    # value written is the one the item shows.
    final = _values(engine, board, item_id)["Amount"]
    assert sorted(old for old, _ in changed) == sorted(["0", *(new for new in news if new != final)])


def test_pending_events_and_mark_forwarded(engine, board):
    first = _item(engine, board)
    _change(engine, first, Status="Done")
    with session_scope(engine) as session:
        pending = events.pending_events(session, limit=10)
        assert [e.kind for e in pending] == ["item_created", "column_changed"]
        assert [e.kind for e in events.pending_events(session, limit=1)] == ["item_created"]
        assert events.mark_forwarded(session, [pending[0].id]) == 1
    with session_scope(engine) as session:
        assert [e.id for e in events.pending_events(session, limit=10)] == [pending[1].id]
        # Marking again (a forwarder retrying after a crash) marks nothing twice and keeps the first time.
        assert events.mark_forwarded(session, [pending[0].id, pending[1].id, uuid.uuid4()]) == 1
        assert events.mark_forwarded(session, []) == 0
    with session_scope(engine) as session:
        assert events.pending_events(session, limit=10) == []
        marked = session.get_one(BoardEvent, pending[0].id)
        assert marked.forwarded_at is not None
