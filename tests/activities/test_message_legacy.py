"""process_message and record_failure (activities/message_legacy.py): the one-step activity that message
workflows of earlier releases still call; the same steps in one call, and the activity log written."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from temporalio.testing import ActivityEnvironment

from activities.message_legacy import LegacyMessageActivities
from activitylog import recent_outcomes
from db.boards import BoardGroup
from db.engine import session_scope
from payloads.messages import MessageInput, MessageResult, Outcome
from tests.activities.support import Mailbox, World


def outcomes(world: World, mailbox: Mailbox) -> dict[str, tuple[str, str, int]]:
    with session_scope(world.engine) as session:
        rows = recent_outcomes(session, uuid.UUID(mailbox.connection_id), 100)
        return {o.message_id: (o.outcome, o.reason, o.items_created) for o in rows}


async def test_process_message_makes_the_item_once_and_logs_each_outcome(world: World) -> None:
    legacy = LegacyMessageActivities(world.steps, world.writes)
    mailbox = await world.connect()
    world.add_recipe(mailbox, world.add_board(mailbox))
    matching = MessageInput(connection_id=mailbox.connection_id, message_id=await world.deliver(mailbox))
    junk = MessageInput(
        connection_id=mailbox.connection_id, message_id=await world.deliver(mailbox, folder="junkemail")
    )
    other = MessageInput(
        connection_id=mailbox.connection_id,
        message_id=await world.deliver(mailbox, **{"from": "someone@elsewhere.example"}),
    )

    made = await ActivityEnvironment().run(legacy.process_message, matching)
    repeated = await ActivityEnvironment().run(legacy.process_message, matching)
    skipped = await ActivityEnvironment().run(legacy.process_message, junk)
    unmatched = await ActivityEnvironment().run(legacy.process_message, other)

    assert made == MessageResult(outcome=Outcome.PROCESSED, reason="1 recipe(s) matched", items_created=1)
    assert repeated == MessageResult(outcome=Outcome.PROCESSED, reason="1 recipe(s) matched", items_created=0)
    assert skipped == MessageResult(outcome=Outcome.SKIPPED, reason="folder")
    assert unmatched == MessageResult(
        outcome=Outcome.SKIPPED, reason="no recipe matched ('Support mail': from)"
    )
    assert outcomes(world, mailbox) == {
        matching.message_id: ("processed", "1 recipe(s) matched", 0),
        junk.message_id: ("skipped", "folder", 0),
        other.message_id: ("skipped", "no recipe matched ('Support mail': from)", 0),
    }


async def test_process_message_for_a_broken_recipe_fails_and_record_failure_logs_it(world: World) -> None:
    legacy = LegacyMessageActivities(world.steps, world.writes)
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    world.add_recipe(mailbox, board_id)
    with session_scope(world.engine) as session:
        session.execute(delete(BoardGroup).where(BoardGroup.board_id == uuid.UUID(board_id)))
    broken = MessageInput(connection_id=mailbox.connection_id, message_id=await world.deliver(mailbox))

    result = await ActivityEnvironment().run(legacy.process_message, broken)

    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("recipe 'Support mail': ")
    assert outcomes(world, mailbox)[broken.message_id][0] == "failed"

    gave_up = MessageResult(outcome=Outcome.FAILED, reason="Microsoft Graph unavailable for a day")
    await ActivityEnvironment().run(legacy.record_failure, broken, gave_up)
    assert outcomes(world, mailbox)[broken.message_id] == (
        "failed",
        "Microsoft Graph unavailable for a day",
        0,
    )
