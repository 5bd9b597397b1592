"""MondayBoards end to end against the fake, with the real app database and OpenBao."""

from __future__ import annotations

import asyncio

import pytest

from boards.draft import ItemDraft
from boards.errors import BoardStoreError, GroupNotFound
from boards.monday.destination import MondayBoards, message_key
from boards.monday.errors import MondayNotLinked, MondayUnavailable
from boards.monday.ledger import MondayLedger
from db.boards import LedgerEntry
from db.engine import session_scope
from db.monday_accounts import MondayAccount

THREADS = ["conversation:conv-1", "message:<orig@customer.example>"]


def draft(**columns: str) -> ItemDraft:
    return ItemDraft(
        name="Invoice 42 overdue",
        group="New",
        columns=columns or {"Email": "grace@customer.example", "Status": "Working on it"},
    )


@pytest.fixture(autouse=True)
def _no_faults(monday_fake):
    monday_fake.control("DELETE", "/faults")
    yield
    monday_fake.control("DELETE", "/faults")


async def test_creates_the_item_with_columns_by_title(
    monday_boards, monday_board, monday_recipe, monday_fake
):
    recipe = monday_recipe(monday_board)
    columns = {
        "Email": "grace@customer.example",
        "Status": "Working on it",
        "Notes": "Hello\nthere",
        "Received": "2026-12-06T10:15:00+01:00",
    }
    written = await monday_boards.create_item_once(recipe, "msg-1", draft(**columns), THREADS)
    assert written.created
    (item,) = monday_fake.board(monday_board["id"])["items"]
    assert item["id"] == written.id and item["group"] == "New" and item["name"] == "Invoice 42 overdue"
    assert item["columns"]["Email"] == "grace@customer.example"
    assert item["columns"]["Status"] == "Working on it"
    assert item["columns"]["Notes"] == "Hello\nthere"
    assert item["columns"]["Received"] == "2026-12-06 09:15:00"
    assert item["columns"]["Message key"] == message_key(recipe.id, "msg-1")
    assert "msg-1" not in item["columns"]["Message key"]


async def test_a_retry_returns_the_same_item(monday_boards, monday_board, monday_recipe, monday_fake):
    recipe = monday_recipe(monday_board)
    first = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    again = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    assert again.id == first.id and not again.created
    assert len(monday_fake.board(monday_board["id"])["items"]) == 1
    # Another message of the same recipe is another item.
    other = await monday_boards.create_item_once(recipe, "msg-2", draft(), [])
    assert other.created and other.id != first.id


async def test_crash_between_remote_create_and_ledger_write(
    monday_boards, monday_board, monday_recipe, monday_fake, monday_engine
):
    """monday.com creates the item but the answer is lost (as if the worker died before the ledger
    write): the retry finds the item by its message key instead of creating a second one."""
    recipe = monday_recipe(monday_board)
    monday_fake.fault("server_error", field="create_item", after=True)
    with pytest.raises(MondayUnavailable):
        await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    (made,) = monday_fake.board(monday_board["id"])["items"]
    ledger = MondayLedger(monday_engine)
    claim = await asyncio.to_thread(ledger.entry, recipe.id, "msg-1")
    assert claim is not None and claim.pending
    assert await monday_boards.item_for_thread(recipe, THREADS) is None

    retried = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    assert retried.id == made["id"] and not retried.created
    assert len(monday_fake.board(monday_board["id"])["items"]) == 1
    completed = await asyncio.to_thread(ledger.entry, recipe.id, "msg-1")
    assert completed is not None and completed.target_id == made["id"]
    assert await monday_boards.item_for_thread(recipe, THREADS) == made["id"]


async def test_crash_before_the_remote_call_creates_on_retry(
    monday_boards, monday_board, monday_recipe, monday_fake
):
    recipe = monday_recipe(monday_board)
    monday_fake.fault("server_error", field="create_item")  # refused before anything is created
    with pytest.raises(MondayUnavailable):
        await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    assert monday_fake.board(monday_board["id"])["items"] == []
    retried = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    assert retried.created
    assert len(monday_fake.board(monday_board["id"])["items"]) == 1


async def test_the_happy_path_costs_one_call_after_the_board_is_known(
    monday_boards, monday_board, monday_recipe, monday_fake
):
    recipe = monday_recipe(monday_board)
    await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    monday_fake.control("DELETE", "/requests")
    await monday_boards.create_item_once(recipe, "msg-2", draft(), [])
    assert [r["fields"] for r in monday_fake.requests()] == [["create_item"]]


async def test_update_on_the_item_once(monday_boards, monday_board, monday_recipe, monday_fake):
    recipe = monday_recipe(monday_board)
    item = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    update = await monday_boards.add_update_once(recipe, "msg-2", item.id, "Thanks, paid today")
    again = await monday_boards.add_update_once(recipe, "msg-2", item.id, "Thanks, paid today")
    assert update.created and again.id == update.id and not again.created
    (shown,) = monday_fake.board(monday_board["id"])["items"]
    assert shown["updates"] == [{"id": update.id, "body": "Thanks, paid today"}]


async def test_update_lost_answer_is_found_on_retry(monday_boards, monday_board, monday_recipe, monday_fake):
    recipe = monday_recipe(monday_board)
    item = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    monday_fake.fault("server_error", field="create_update", after=True)
    with pytest.raises(MondayUnavailable):
        await monday_boards.add_update_once(recipe, "msg-2", item.id, "Paid")
    retried = await monday_boards.add_update_once(recipe, "msg-2", item.id, "Paid")
    assert not retried.created
    (shown,) = monday_fake.board(monday_board["id"])["items"]
    assert [u["id"] for u in shown["updates"]] == [retried.id]


async def test_reply_threading(monday_boards, monday_board, monday_recipe):
    recipe = monday_recipe(monday_board)
    assert await monday_boards.item_for_thread(recipe, THREADS) is None
    item = await monday_boards.create_item_once(recipe, "msg-1", draft(), THREADS)
    assert await monday_boards.item_for_thread(recipe, ["conversation:conv-1"]) == item.id
    assert await monday_boards.item_for_thread(recipe, ["message:<orig@customer.example>"]) == item.id
    assert await monday_boards.item_for_thread(recipe, ["conversation:other"]) is None
    # Another recipe never sees this recipe's threads.
    assert await monday_boards.item_for_thread(monday_recipe(monday_board), THREADS) is None
    # A second item in the same conversation does not take the thread over.
    await monday_boards.create_item_once(recipe, "msg-3", draft(), THREADS)
    assert await monday_boards.item_for_thread(recipe, THREADS) == item.id


async def test_find_item_by_column_oldest_first_ignoring_case(monday_boards, monday_board, monday_recipe):
    recipe = monday_recipe(monday_board)
    first = await monday_boards.create_item_once(recipe, "m1", draft(Email="grace@customer.example"), [])
    await monday_boards.create_item_once(recipe, "m2", draft(Email="grace@customer.example"), [])
    await monday_boards.create_item_once(recipe, "m3", draft(Email="ada@customer.example"), [])
    assert await monday_boards.find_item(recipe, "Email", "  Grace@Customer.example ") == first.id
    assert await monday_boards.find_item(recipe, "email", "nobody@customer.example") is None
    assert await monday_boards.find_item(recipe, "Email", "   ") is None


async def test_a_board_without_the_key_column_is_refused(monday_boards, monday_fake, monday_recipe):
    board = monday_fake.add_board("No key", ["New"], [{"title": "Email", "type": "email"}])
    with pytest.raises(BoardStoreError, match="Message key"):
        await monday_boards.create_item_once(monday_recipe(board), "m1", draft(Email="a@b.example"), [])
    assert monday_fake.board(board["id"])["items"] == []


async def test_unknown_group_and_column_are_board_errors(monday_boards, monday_board, monday_recipe):
    recipe = monday_recipe(monday_board)
    with pytest.raises(GroupNotFound):
        await monday_boards.create_item_once(recipe, "m1", ItemDraft(name="x", group="Nope"), [])
    with pytest.raises(BoardStoreError, match="Phone"):
        await monday_boards.create_item_once(recipe, "m2", draft(Phone="1"), [])


async def test_new_groups_are_seen_after_the_cache(monday_boards, monday_board, monday_recipe, monday_fake):
    recipe = monday_recipe(monday_board)
    await monday_boards.create_item_once(recipe, "m1", draft(), [])  # caches the board
    monday_fake.control("DELETE", "/requests")
    # A group the cached shape does not have: the board is read again once before refusing.
    with pytest.raises(GroupNotFound):
        await monday_boards.create_item_once(recipe, "m2", ItemDraft(name="x", group="Later"), [])
    assert [r["fields"] for r in monday_fake.requests()] == [["boards"]]


async def test_done_items_in_the_done_group(monday_boards, monday_board, monday_recipe, monday_fake):
    recipe = monday_recipe(monday_board, group="Done")
    await monday_boards.create_item_once(recipe, "m1", ItemDraft(name="x", group="done"), [])
    assert monday_fake.board(monday_board["id"])["items"][0]["group"] == "Done"


async def test_an_unlinked_account_is_not_retried(monday_boards, monday_board, monday_recipe, monday_engine):
    recipe = monday_recipe(monday_board)

    def unlink() -> None:
        with session_scope(monday_engine) as session:
            for row in session.query(MondayAccount).all():
                session.delete(row)

    await asyncio.to_thread(unlink)
    with pytest.raises(MondayNotLinked):
        await monday_boards.create_item_once(recipe, "m1", draft(), [])


async def test_ledger_rows_name_the_connection(monday_boards, monday_board, monday_recipe, monday_engine):
    recipe = monday_recipe(monday_board)
    item = await monday_boards.create_item_once(recipe, "m1", draft(), [])

    def row() -> LedgerEntry:
        with session_scope(monday_engine) as session:
            entry = session.get_one(LedgerEntry, (recipe.id, "m1"))
            session.expunge(entry)
            return entry

    entry = await asyncio.to_thread(row)
    assert (entry.kind, entry.target_id, entry.connection_id) == ("item", item.id, "conn-1")


def test_monday_boards_is_a_destination() -> None:
    from boards.destination import Destination

    def accepts(_d: Destination) -> None: ...

    accepts(MondayBoards.__new__(MondayBoards))


async def test_the_token_stays_out_of_the_database_and_logs(
    monday_boards, monday_board, monday_recipe, monday_engine, caplog
):
    import logging
    from pathlib import Path

    from tests.support.leak_scan import Blob, Secrets
    from tests.support.monday_fixtures import MONDAY_TOKEN

    caplog.set_level(logging.DEBUG)
    recipe = monday_recipe(monday_board)
    item = await monday_boards.create_item_once(recipe, "m1", draft(), THREADS)
    await monday_boards.add_update_once(recipe, "m2", item.id, "update")
    await monday_boards.find_item(recipe, "Email", "grace@customer.example")
    database = Path(str(monday_engine.url.database))
    secrets = Secrets()
    secrets.add("monday.com token", MONDAY_TOKEN)
    blobs = [Blob(str(p), p.read_bytes()) for p in database.parent.glob(database.name + "*")]
    assert blobs
    assert secrets.find([*blobs, Blob("log", caplog.text.encode())]) == []
