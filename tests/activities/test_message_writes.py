"""The message workflow's writing steps (activities/message_writes.py), each run alone in an
ActivityEnvironment against the emulator, OpenBao, the application database and the built-in boards:
replies threaded into updates, create_update recipes, attachments onto items."""

from __future__ import annotations

import base64
import uuid

from temporalio.testing import ActivityEnvironment

from boards.schemas import ItemPublic
from boards.service import get_board, list_items
from db.engine import session_scope
from payloads.messages import AttachRequest, ItemRequest
from tests.activities.support import CUSTOMER, Mailbox, World
from tests.activities.test_message_steps import fetched_email

ORIGINAL = "<invoice-8812@customer.example>"


def board_items(world: World, mailbox: Mailbox, board_id: str) -> list[ItemPublic]:
    with session_scope(world.engine) as session:
        board = get_board(session, mailbox.account_id, uuid.UUID(board_id))
        assert board is not None
        return list_items(session, board, limit=100)


async def write(world: World, mailbox: Mailbox, recipe_id: str, message_id: str, step: str = "create_item"):
    email, _ = await fetched_email(world, mailbox, message_id)
    request = ItemRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, email=email
    )
    return await ActivityEnvironment().run(getattr(world.writes, step), request)


async def test_a_reply_becomes_an_update_on_its_conversations_item_once(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(
        mailbox,
        board_id,
        action={
            "type": "create_item",
            "board_id": board_id,
            "group": "New",
            "columns": {"From": "{from.address}"},
            "replies": "update",
            "reply_update": "{from.name} wrote: {body}",
        },
    )
    first = await world.deliver(
        mailbox, internet_message_id=ORIGINAL, body="Invoice attached", body_type="text"
    )
    reply = await world.deliver(
        mailbox,
        subject="RE: Need help with my order",
        in_reply_to=ORIGINAL,
        body="Any news?",
        body_type="text",
    )

    made = await write(world, mailbox, recipe_id, first)
    answered = await write(world, mailbox, recipe_id, reply)
    again = await write(world, mailbox, recipe_id, reply)

    assert (made.kind, made.created) == ("item", True)
    assert (answered.kind, answered.created) == ("update", True)
    assert (again.kind, again.created, again.item_id) == ("update", False, answered.item_id)
    (item,) = board_items(world, mailbox, board_id)
    assert str(item.id) == made.item_id
    assert [u.body for u in item.updates] == ["Grace Hopper wrote: Any news?"]


async def test_a_retried_item_step_reports_the_item_its_earlier_attempt_made(world: World) -> None:
    """The step ran again (a workflow task timed out after the item was written): the message's own
    conversation now belongs to its item, which must not make the retry take it for a reply."""
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(
        mailbox,
        board_id,
        action={"type": "create_item", "board_id": board_id, "group": "New", "replies": "update"},
    )
    first = await world.deliver(mailbox, internet_message_id=ORIGINAL, body="Invoice", body_type="text")

    made = await write(world, mailbox, recipe_id, first)
    again = await write(world, mailbox, recipe_id, first)

    assert (made.kind, made.created) == ("item", True)
    assert (again.kind, again.created, again.item_id) == ("item", False, made.item_id)
    (item,) = board_items(world, mailbox, board_id)
    assert item.updates == []


async def test_a_reply_from_a_new_conversation_is_threaded_by_its_references(world: World) -> None:
    """Mail systems that start a new Outlook conversation for a reply still send In-Reply-To."""
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id, replies="update")
    first = await world.deliver(mailbox, internet_message_id=ORIGINAL)
    reply = await world.deliver(mailbox, conversation_id="AAQkOTHERCONVERSATION", in_reply_to=ORIGINAL)

    made = await write(world, mailbox, recipe_id, first)
    answered = await write(world, mailbox, recipe_id, reply)

    assert answered.kind == "update"
    (item,) = board_items(world, mailbox, board_id)
    assert str(item.id) == made.item_id and len(item.updates) == 1


async def test_with_replies_as_items_every_message_makes_its_own_item(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id, replies="item")
    first = await world.deliver(mailbox, internet_message_id=ORIGINAL)
    reply = await world.deliver(mailbox, in_reply_to=ORIGINAL)

    kinds = [(await write(world, mailbox, recipe_id, m)).kind for m in (first, reply)]

    assert kinds == ["item", "item"]
    assert len(board_items(world, mailbox, board_id)) == 2


async def test_create_update_finds_the_item_by_a_column_or_says_none_matched(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    items_recipe = world.add_recipe(mailbox, board_id, name="Items")
    updates_recipe = world.add_recipe(
        mailbox,
        board_id,
        name="Updates",
        action={
            "type": "create_update",
            "board_id": board_id,
            "find": {"column": "From", "value": "{from.address}"},
            "body": "Another email: {subject}",
        },
    )
    first = await world.deliver(mailbox)
    made = await write(world, mailbox, items_recipe, first)
    second = await world.deliver(mailbox, subject="Still waiting")
    stranger = await world.deliver(mailbox, **{"from": {"name": "Else", "address": "else@customer.example"}})

    updated = await write(world, mailbox, updates_recipe, second, "create_update")
    missed = await write(world, mailbox, updates_recipe, stranger, "create_update")

    assert (updated.kind, updated.created, updated.recipe_name) == ("update", True, "Updates")
    (item,) = board_items(world, mailbox, board_id)
    assert str(item.id) == made.item_id
    assert [u.body for u in item.updates] == ["Another email: Still waiting"]
    # Nothing written; the reason names the column, never the email's value.
    assert (missed.item_id, missed.reason) == ("", "no item whose 'From' matches")
    assert "else@customer.example" not in missed.model_dump_json()


async def test_attachments_go_onto_the_item_once_without_inline_images(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(
        mailbox,
        board_id,
        action={"type": "create_item", "board_id": board_id, "group": "New", "attachments": True},
    )
    pdf = base64.b64encode(b"%PDF-1.7 invoice").decode()
    message_id = await world.deliver(
        mailbox,
        attachments=[
            {"name": "../../invoice 8812.pdf", "content_type": "application/pdf", "content_base64": pdf},
            {"name": "logo.png", "content_type": "image/png", "content": "png", "is_inline": True},
        ],
    )
    made = await write(world, mailbox, recipe_id, message_id)
    assert made.attach is True
    request = AttachRequest(
        connection_id=mailbox.connection_id, message_id=message_id, recipe_id=recipe_id, item_id=made.item_id
    )

    first = await ActivityEnvironment().run(world.writes.attach_files, request)
    again = await ActivityEnvironment().run(world.writes.attach_files, request)

    assert (first.added, first.skipped) == (1, 1)
    assert (again.added, again.skipped) == (0, 1)
    (item,) = board_items(world, mailbox, board_id)
    assert [(f.name, f.content_type, f.size) for f in item.files] == [
        ("_.._invoice 8812.pdf", "application/pdf", len(b"%PDF-1.7 invoice"))
    ]


async def test_a_recipe_without_attachments_asks_for_no_files(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id)
    message_id = await world.deliver(mailbox, attachments=[{"name": "a.txt", "content": "hello"}])

    made = await write(world, mailbox, recipe_id, message_id)

    assert made.attach is False
    assert CUSTOMER  # the default sender, whose mail the recipe matches
