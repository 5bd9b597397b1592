"""The message workflow's five steps (activities/message_steps.py), each run alone in an
ActivityEnvironment against the emulator, OpenBao, the application database and the board store.
tests/workflows/test_message_workflow.py stubs these same activities to test the orchestration."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import CursorResult, delete, func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.message_steps import GONE
from activities.recipe_cache import RECIPES_FRESH_FOR
from activitylog import recent_outcomes
from activitylog.log import REASON_MAX
from boards.service import get_board, list_items
from db.boards import BoardColumn, BoardGroup, BoardItem
from db.engine import session_scope
from db.recipes import RecipeRow
from payloads.email import EmailFacts
from payloads.messages import (
    RECIPE_BROKEN,
    FolderCheck,
    ItemRequest,
    MatchRequest,
    MessageInput,
    MessageResult,
    Outcome,
    OutcomeRecord,
    RecipeMiss,
)
from recipes.loops import OWN_MARKER_HEADER
from tests.activities.support import CUSTOMER, Mailbox, World


def message(mailbox: Mailbox, message_id: str) -> MessageInput:
    return MessageInput(connection_id=mailbox.connection_id, message_id=message_id)


async def fetched_email(world: World, mailbox: Mailbox, message_id: str) -> tuple[EmailFacts, list[str]]:
    fetched = await ActivityEnvironment().run(world.steps.fetch_message, message(mailbox, message_id))
    assert fetched.email is not None, fetched.reason
    return fetched.email, fetched.recipe_ids


def items_on(world: World, mailbox: Mailbox, board_id: str) -> list[tuple[str, dict[str, str | None]]]:
    with session_scope(world.engine) as session:
        board = get_board(session, mailbox.account_id, uuid.UUID(board_id))
        assert board is not None
        return [(item.name, item.columns) for item in list_items(session, board, limit=100)]


async def past_the_recipes_read() -> None:
    """Waits until the steps' last read of the recipes is stale: within RECIPES_FRESH_FOR of a read, a
    worker's steps use the recipes as they were then (activities/message_steps.py, on purpose)."""
    await asyncio.sleep(RECIPES_FRESH_FOR + 0.1)


# ----- check_folder -------------------------------------------------------------------------------


async def test_check_folder_allows_the_inbox_and_asks_for_the_folder_only(world: World) -> None:
    mailbox = await world.connect()
    message_id = await world.deliver(mailbox)

    check = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, message_id))

    assert check.allowed, check
    asked = await world.message_requests(mailbox, message_id)
    assert [(r["method"], r["select"]) for r in asked] == [("GET", ["parentFolderId"])]


@pytest.mark.parametrize("folder", ["junkemail", "deleteditems", "sentitems", "drafts", "Customer projects"])
async def test_check_folder_refuses_other_folders_without_reading_the_message(
    world: World, folder: str
) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    world.add_recipe(mailbox, board_id)  # a recipe that would match it, were it in the inbox
    message_id = await world.deliver(mailbox, folder=folder)

    check = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, message_id))

    assert not check.allowed
    assert check.reason == "folder"
    asked = await world.message_requests(mailbox, message_id)
    assert [r["select"] for r in asked] == [["parentFolderId"]]


async def test_check_folder_of_a_message_moved_to_junk_after_its_notification(world: World) -> None:
    mailbox = await world.connect()
    message_id = await world.deliver(mailbox)  # the id a notification carries (immutable)
    await world.move_message(mailbox, message_id, "junkemail")

    check = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, message_id))

    assert check == FolderCheck(allowed=False, reason="folder")


async def test_check_folder_of_a_message_deleted_meanwhile_says_it_no_longer_exists(world: World) -> None:
    mailbox = await world.connect()
    message_id = await world.deliver(mailbox)
    await world.delete_message(mailbox, message_id)

    check = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, message_id))

    assert not check.allowed
    assert check.reason == GONE == "message no longer exists"
    assert [r["status"] for r in await world.message_requests(mailbox, message_id)] == [404]


# ----- fetch_message ------------------------------------------------------------------------------


async def test_fetch_asks_only_for_the_fields_the_enabled_recipes_need(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    enabled = world.add_recipe(
        mailbox,
        board_id,
        item_name="{subject}",
        columns={"From": "{from.address}", "Received": "{received_at}"},
    )
    # Disabled: its preview and body must not be asked for.
    world.add_recipe(
        mailbox, board_id, name="Off", enabled=False, columns={"Preview": "{preview}", "From": "{body}"}
    )
    message_id = await world.deliver(mailbox)

    fetched = await ActivityEnvironment().run(world.steps.fetch_message, message(mailbox, message_id))

    asked = await world.message_requests(mailbox, message_id)
    assert [(r["method"], r["status"]) for r in asked] == [("GET", 200)]
    assert sorted(asked[0]["select"]) == ["from", "internetMessageHeaders", "receivedDateTime", "subject"]
    assert fetched.recipe_ids == [enabled]
    email = fetched.email
    assert email is not None
    assert (email.subject, email.from_address, email.from_name) == (
        "Need help with my order",
        CUSTOMER,
        "Grace Hopper",
    )
    assert email.received_at is not None
    # What was not asked for is not there.
    assert (email.preview, email.body_text, email.to) == ("", "", [])
    (answer,) = [a for a in world.graph_answers.answers if a.path.endswith(message_id)]
    assert "outlook.body-content-type" not in (answer.prefer or "")


async def test_fetch_for_two_recipes_asks_for_the_union_and_the_body_as_text(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    first = world.add_recipe(mailbox, board_id, name="First", columns={"Preview": "{body}"})
    second = world.add_recipe(
        mailbox, board_id, name="Second", conditions={}, item_name="{to}", columns={"From": "{from.name}"}
    )
    message_id = await world.deliver(mailbox)

    fetched = await ActivityEnvironment().run(world.steps.fetch_message, message(mailbox, message_id))

    (asked,) = await world.message_requests(mailbox, message_id)
    # receivedDateTime always (metadata, for the delivery-to-item metric), the rest as the recipes read.
    assert sorted(asked["select"]) == [
        "body",
        "from",
        "internetMessageHeaders",
        "receivedDateTime",
        "subject",
        "toRecipients",
    ]
    assert fetched.recipe_ids == [first, second]
    assert fetched.email is not None
    assert fetched.email.to == [mailbox.email]
    assert "never arrived" in fetched.email.body_text
    (answer,) = [a for a in world.graph_answers.answers if a.path.endswith(message_id)]
    assert 'outlook.body-content-type="text"' in (answer.prefer or "")


async def test_fetch_without_any_recipe_asks_graph_nothing(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    world.add_recipe(mailbox, board_id, enabled=False)
    message_id = await world.deliver(mailbox)

    fetched = await ActivityEnvironment().run(world.steps.fetch_message, message(mailbox, message_id))

    assert fetched.email is None
    assert fetched.recipe_ids == []
    assert fetched.reason == "no recipe for this connection"
    assert await world.message_requests(mailbox, message_id) == []


async def test_fetch_of_a_message_deleted_meanwhile_says_it_no_longer_exists(world: World) -> None:
    mailbox = await world.connect()
    world.add_recipe(mailbox, world.add_board(mailbox))
    message_id = await world.deliver(mailbox)
    await world.delete_message(mailbox, message_id)

    fetched = await ActivityEnvironment().run(world.steps.fetch_message, message(mailbox, message_id))

    assert fetched.email is None
    assert fetched.reason == GONE


# ----- filter_message -----------------------------------------------------------------------------


async def test_filter_names_the_first_condition_each_recipe_failed(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    support = world.add_recipe(mailbox, board_id, name="Support")
    partners = world.add_recipe(
        mailbox, board_id, name="Partners", conditions={"from": ["*@partner.example"]}
    )
    invoices = world.add_recipe(
        mailbox,
        board_id,
        name="Invoices",
        conditions={"from": ["*@customer.example"], "subject_contains": ["invoice"]},
    )
    message_id = await world.deliver(mailbox)
    email, recipe_ids = await fetched_email(world, mailbox, message_id)
    request = MatchRequest(connection_id=mailbox.connection_id, email=email, recipe_ids=recipe_ids)

    match = await ActivityEnvironment().run(world.steps.filter_message, request)

    assert match.matched == [support]
    assert match.missed == [
        RecipeMiss(recipe_name="Partners", recipe_id=partners, condition="from"),
        RecipeMiss(recipe_name="Invoices", recipe_id=invoices, condition="subject_contains"),
    ]
    assert match.skip_reason == ""

    other_id = await world.deliver(mailbox, **{"from": "someone@elsewhere.example", "subject": "Lunch?"})
    other, other_recipes = await fetched_email(world, mailbox, other_id)
    nothing = await ActivityEnvironment().run(
        world.steps.filter_message,
        MatchRequest(connection_id=mailbox.connection_id, email=other, recipe_ids=other_recipes),
    )
    assert nothing.matched == []
    assert nothing.reason() == "no recipe matched ('Support': from; 'Partners': from; 'Invoices': from)"


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({OWN_MARKER_HEADER: "1"}, "Need help with my order", "sent by this service"),
        ({"Auto-Submitted": "auto-replied"}, "Need help with my order", "automatic reply"),
        (
            {"X-Auto-Response-Suppress": "All"},
            "Automatic reply: Need help with my order",
            "automatic reply",
        ),
    ],
    ids=["own-mail", "auto-submitted", "out-of-office"],
)
async def test_filter_skips_own_mail_and_automatic_replies_even_when_a_recipe_matches(
    world: World, headers: dict[str, str], subject: str, reason: str
) -> None:
    mailbox = await world.connect()
    world.add_recipe(mailbox, world.add_board(mailbox))
    message_id = await world.deliver(mailbox, headers=headers, subject=subject)
    email, recipe_ids = await fetched_email(world, mailbox, message_id)

    match = await ActivityEnvironment().run(
        world.steps.filter_message,
        MatchRequest(connection_id=mailbox.connection_id, email=email, recipe_ids=recipe_ids),
    )

    assert match.matched == []
    assert match.skip_reason == reason
    assert match.reason() == reason


async def test_filter_skips_an_out_of_office_reply_when_no_recipe_needs_the_subject(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    world.add_recipe(
        mailbox,
        board_id,
        conditions={"from": ["*@customer.example"]},
        item_name="Mail from {from.address}",
        columns={"From": "{from.address}"},
    )
    message_id = await world.deliver(
        mailbox,
        headers={"X-Auto-Response-Suppress": "All"},
        subject="Automatic reply: Need help with my order",
    )
    email, recipe_ids = await fetched_email(world, mailbox, message_id)

    match = await ActivityEnvironment().run(
        world.steps.filter_message,
        MatchRequest(connection_id=mailbox.connection_id, email=email, recipe_ids=recipe_ids),
    )

    assert match.matched == []
    assert match.skip_reason == "automatic reply"


async def test_filter_considers_only_recipes_still_enabled_that_the_fetch_was_made_for(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    kept = world.add_recipe(mailbox, board_id, name="Kept")
    disabled_later = world.add_recipe(mailbox, board_id, name="Disabled later")
    message_id = await world.deliver(mailbox)
    email, recipe_ids = await fetched_email(world, mailbox, message_id)
    assert recipe_ids == [kept, disabled_later]
    with session_scope(world.engine) as session:
        row = session.get(RecipeRow, uuid.UUID(disabled_later))
        assert row is not None
        row.enabled = False
    # Added after the fetch: it may need fields that were not fetched, so it waits for the next email.
    world.add_recipe(mailbox, board_id, name="Added later")
    await past_the_recipes_read()

    match = await ActivityEnvironment().run(
        world.steps.filter_message,
        MatchRequest(connection_id=mailbox.connection_id, email=email, recipe_ids=recipe_ids),
    )

    assert match.matched == [kept]
    assert match.missed == []


# ----- create_item --------------------------------------------------------------------------------


async def test_create_item_twice_makes_one_item(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(
        mailbox, board_id, columns={"From": "{from.address}", "Received": "{received_at}"}
    )
    message_id = await world.deliver(mailbox)
    email, _ = await fetched_email(world, mailbox, message_id)
    request = ItemRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=email
    )

    first = await ActivityEnvironment().run(world.writes.create_item, request)
    again = await ActivityEnvironment().run(world.writes.create_item, request)

    assert first.created is True
    assert again.created is False
    assert again.item_id == first.item_id
    items = items_on(world, mailbox, board_id)
    assert len(items) == 1
    name, columns = items[0]
    assert name == "Need help with my order"
    assert columns["From"] == CUSTOMER
    assert columns["Received"]
    assert columns["Preview"] is None


async def test_create_item_attempts_at_the_same_time_make_one_item(world: World) -> None:
    """A retry that starts while a slow first attempt is still writing (two workers, one message)."""
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id)
    message_id = await world.deliver(mailbox)
    email, _ = await fetched_email(world, mailbox, message_id)
    request = ItemRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=email
    )

    results = await asyncio.gather(
        *(ActivityEnvironment().run(world.writes.create_item, request) for _ in range(4))
    )

    assert len({r.item_id for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len(items_on(world, mailbox, board_id)) == 1


@pytest.mark.parametrize("removed", ["group", "column"])
async def test_create_item_for_a_recipe_whose_board_changed_fails_without_retry(
    world: World, removed: str
) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id, name="Support mail", group="New")
    message_id = await world.deliver(mailbox)
    email, _ = await fetched_email(world, mailbox, message_id)
    with session_scope(world.engine) as session:
        table = BoardGroup if removed == "group" else BoardColumn
        title = "New" if removed == "group" else "From"
        gone = session.execute(
            delete(table).where(table.board_id == uuid.UUID(board_id), table.title == title)
        )
        assert isinstance(gone, CursorResult)
        assert gone.rowcount == 1
    request = ItemRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=email
    )

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(world.writes.create_item, request)

    assert failed.value.type == RECIPE_BROKEN
    assert failed.value.non_retryable is True
    assert "Support mail" in failed.value.message
    # Nothing was written, not even the ledger's claim: once the board is repaired the item is made.
    assert world.boards.created_for(recipe_id, message_id) is None
    with session_scope(world.engine) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(BoardItem).where(BoardItem.board_id == uuid.UUID(board_id))
            )
            == 0
        )


async def test_create_item_for_a_recipe_deleted_meanwhile_fails_without_retry(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id)
    message_id = await world.deliver(mailbox)
    email, _ = await fetched_email(world, mailbox, message_id)
    with session_scope(world.engine) as session:
        session.execute(delete(RecipeRow).where(RecipeRow.id == uuid.UUID(recipe_id)))
    await past_the_recipes_read()

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(
            world.writes.create_item,
            ItemRequest(
                connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=email
            ),
        )

    assert failed.value.type == RECIPE_BROKEN
    assert failed.value.non_retryable is True
    assert items_on(world, mailbox, board_id) == []


# ----- record_outcome -----------------------------------------------------------------------------


async def test_record_outcome_writes_the_activity_log_once_per_message(world: World) -> None:
    mailbox = await world.connect()
    message_id = await world.deliver(mailbox)
    failed = OutcomeRecord(
        connection_id=mailbox.connection_id,
        message_id=message_id,
        result=MessageResult(outcome=Outcome.FAILED, reason="board store unavailable " * 20),
    )
    processed = OutcomeRecord(
        connection_id=mailbox.connection_id,
        message_id=message_id,
        result=MessageResult(outcome=Outcome.PROCESSED, reason="1 recipe(s) matched", items_created=1),
    )

    await ActivityEnvironment().run(world.steps.record_outcome, failed)
    with session_scope(world.engine) as session:
        first = [
            (o.message_id, o.outcome, o.reason, o.items_created)
            for o in recent_outcomes(session, uuid.UUID(mailbox.connection_id), 10)
        ]
    assert first == [(message_id, "failed", ("board store unavailable " * 20)[:REASON_MAX], 0)]

    await ActivityEnvironment().run(world.steps.record_outcome, processed)
    with session_scope(world.engine) as session:
        rows = recent_outcomes(session, uuid.UUID(mailbox.connection_id), 10)
        assert [(o.message_id, o.outcome, o.reason, o.items_created) for o in rows] == [
            (message_id, "processed", "1 recipe(s) matched", 1)
        ]


async def test_filter_matches_only_the_recipes_watching_the_messages_folder(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    async with world.control() as c:
        r = await c.post(f"/users/{mailbox.email}/folders", json={"display_name": "Billing"})
        assert r.status_code == 201, r.text
        billing_folder = r.json()["id"]
    inbox_recipe = world.add_recipe(mailbox, board_id, name="Inbox")
    spec_folder = world.add_recipe(mailbox, board_id, name="Billing folder")
    with session_scope(world.engine) as session:
        row = session.get(RecipeRow, uuid.UUID(spec_folder))
        assert row is not None
        definition = json.loads(row.definition)
        definition["trigger"]["folder"] = billing_folder
        row.definition = json.dumps(definition)
    in_folder = await world.deliver(mailbox, folder="Billing")
    in_inbox = await world.deliver(mailbox)

    matched = {}
    for message_id in (in_folder, in_inbox):
        folder = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, message_id))
        assert folder.allowed, folder
        email, recipe_ids = await fetched_email(world, mailbox, message_id)
        request = MatchRequest(
            connection_id=mailbox.connection_id,
            email=email,
            recipe_ids=recipe_ids,
            folder_id=folder.folder_id,
        )
        matched[message_id] = (await ActivityEnvironment().run(world.steps.filter_message, request)).matched

    assert matched == {in_folder: [spec_folder], in_inbox: [inbox_recipe]}


async def test_a_folder_a_recipe_began_watching_a_moment_ago_is_allowed_at_once(world: World) -> None:
    """The folder check's cache of watched folders is re-read before a refusal, which is final."""
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    async with world.control() as c:
        r = await c.post(f"/users/{mailbox.email}/folders", json={"display_name": "Orders"})
        assert r.status_code == 201, r.text
        orders = r.json()["id"]
    first = await world.deliver(mailbox, folder="Orders")
    refused = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, first))
    assert (refused.allowed, refused.reason) == (False, "folder")

    recipe_id = world.add_recipe(mailbox, board_id)
    with session_scope(world.engine) as session:
        row = session.get(RecipeRow, uuid.UUID(recipe_id))
        assert row is not None
        definition = json.loads(row.definition)
        definition["trigger"]["folder"] = orders
        row.definition = json.dumps(definition)
    second = await world.deliver(mailbox, folder="Orders")
    allowed = await ActivityEnvironment().run(world.steps.check_folder, message(mailbox, second))

    assert allowed.allowed and allowed.folder_id == orders
