"""catch_up_messages over the folders the recipes watch (activities/catch_up.py with
activities/catch_up_folders.py): mail delivered into a watched custom folder while no subscription
existed is found; each folder keeps its own position under its own key, with the call numbering per
folder; junk and unwatched folders are never delta-queried; an unwatched folder's position is dropped."""

from __future__ import annotations

import uuid

from temporalio.testing import ActivityEnvironment

from activities.catch_up_folders import INBOX_KEY, folder_key
from db.engine import session_scope
from db.recipes import RecipeRow
from db.sync_state import MailSyncState
from payloads.messages import CatchUpRequest, CatchUpResult, MessageInput
from tests.activities.support import Mailbox, World


async def catch_up(world: World, mailbox: Mailbox, call: int, limit: int = 1000) -> CatchUpResult:
    request = CatchUpRequest(connection_id=mailbox.connection_id, limit=limit, call=call)
    return await ActivityEnvironment().run(world.catch_up.catch_up_messages, request)


def positions(world: World, mailbox: Mailbox) -> dict[str, tuple[str | None, int | None]]:
    """Key -> (delta link, last call) of every folder with a saved position."""
    with session_scope(world.engine) as session:
        rows = session.query(MailSyncState).filter_by(connection_id=uuid.UUID(mailbox.connection_id)).all()
        return {r.folder: (r.delta_link, r.last_call) for r in rows}


async def inbox_id(world: World, mailbox: Mailbox) -> str:
    async with world.control() as c:
        r = await c.get(f"/users/{mailbox.email}/folders")
    assert r.status_code == 200, r.text
    (inbox,) = [f["id"] for f in r.json() if f.get("well_known") == "inbox"]
    return str(inbox)


async def test_finds_mail_in_a_watched_custom_folder_delivered_while_nothing_was_subscribed(
    world: World,
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    filed = await world.add_folder(mailbox, "Filed support")
    world.add_recipe(mailbox, board, folder=filed)
    # No subscription exists: nothing but a catch-up can find these.
    in_folder = await world.deliver(mailbox, folder=filed, subject="Need help, filed by a rule")
    in_inbox = await world.deliver(mailbox, subject="Need help in the inbox")
    in_junk = await world.deliver(mailbox, folder="junkemail", subject="Need help (junk)")
    other = await world.add_folder(mailbox, "Unwatched")
    in_other = await world.deliver(mailbox, folder=other, subject="Need help elsewhere")

    result = await catch_up(world, mailbox, call=1)

    assert result.complete
    assert sorted(result.message_ids) == sorted([in_folder, in_inbox])
    assert in_junk not in result.message_ids and in_other not in result.message_ids
    inbox = await inbox_id(world, mailbox)
    key = folder_key(filed, inbox)
    assert key != INBOX_KEY and len(key) <= 64  # Graph's folder ids are longer than the key column
    saved = positions(world, mailbox)
    assert set(saved) == {INBOX_KEY, key}
    assert all(link is not None and call == 1 for link, call in saved.values())
    # Only the inbox and the watched folder were delta-queried; junk never, the other folder never.
    deltas = [r["path"] for r in await world.graph_requests(mailbox) if r["path"].endswith("/delta")]
    queried = {p.split("/mailFolders/", 1)[1].split("/", 1)[0] for p in deltas}
    assert queried == {inbox, filed}


async def test_each_folder_keeps_its_place_and_a_repeated_call_restarts_each_where_it_started(
    world: World,
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    filed = await world.add_folder(mailbox, "Filed support")
    world.add_recipe(mailbox, board, folder=filed)
    first = await catch_up(world, mailbox, call=1)
    assert first.message_ids == []

    new_filed = await world.deliver(mailbox, folder=filed, subject="Need help #2")
    new_inbox = await world.deliver(mailbox, subject="Need help #3")
    second = await catch_up(world, mailbox, call=2)
    assert sorted(second.message_ids) == sorted([new_filed, new_inbox])

    # The workflow never got call 2's result: the same number again finds the same mail in each folder.
    again = await catch_up(world, mailbox, call=2)
    assert sorted(again.message_ids) == sorted([new_filed, new_inbox])

    # Call 3 goes on from where call 2 ended, in each folder.
    third = await catch_up(world, mailbox, call=3)
    assert third.message_ids == []
    assert {call for _, call in positions(world, mailbox).values()} == {3}


async def test_a_chunk_that_ends_in_the_inbox_leaves_the_custom_folder_for_the_next_call(
    world: World,
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    filed = await world.add_folder(mailbox, "Filed support")
    world.add_recipe(mailbox, board, folder=filed)
    inbox_mail = [await world.deliver(mailbox, subject=f"Need help #{n}") for n in range(3)]
    filed_mail = await world.deliver(mailbox, folder=filed, subject="Need help, filed")

    first = await catch_up(world, mailbox, call=1, limit=3)
    assert not first.complete
    assert sorted(first.message_ids) == sorted(inbox_mail)
    second = await catch_up(world, mailbox, call=2, limit=3)
    assert second.complete
    assert second.message_ids == [filed_mail]


async def test_a_folder_no_recipe_watches_any_longer_loses_its_position(world: World) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    filed = await world.add_folder(mailbox, "Filed support")
    recipe = world.add_recipe(mailbox, board, folder=filed)
    await catch_up(world, mailbox, call=1)
    assert len(positions(world, mailbox)) == 2

    with session_scope(world.engine) as session:
        row = session.get(RecipeRow, uuid.UUID(recipe))
        assert row is not None
        session.delete(row)
    # No wait for the folder check's cache (activities/folders.py): a catch-up reads the recipes now.
    await catch_up(world, mailbox, call=2)

    assert set(positions(world, mailbox)) == {INBOX_KEY}


async def test_after_a_catch_up_the_folder_check_still_refuses_junk_and_sent_items(world: World) -> None:
    """Regression: the well-known ids resolved to exclude the refused folders were once handed back as
    allowed by every later call (activities/folders.py)."""
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    filed = await world.add_folder(mailbox, "Filed support")
    world.add_recipe(mailbox, board, folder=filed)
    await catch_up(world, mailbox, call=1)
    for folder in ("junkemail", "sentitems", "deleteditems", "drafts"):
        message_id = await world.deliver(mailbox, folder=folder)
        for _ in range(2):  # the first and a later check alike
            check = await ActivityEnvironment().run(
                world.steps.check_folder,
                MessageInput(connection_id=mailbox.connection_id, message_id=message_id),
            )
            assert (check.allowed, check.reason) == (False, "folder"), folder
    in_folder = await world.deliver(mailbox, folder=filed)
    check = await ActivityEnvironment().run(
        world.steps.check_folder, MessageInput(connection_id=mailbox.connection_id, message_id=in_folder)
    )
    assert (check.allowed, check.folder_id) == (True, filed)
