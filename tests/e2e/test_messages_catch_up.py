"""Catch-up after gaps: mail that arrives while the subscription is being re-created, a `missed` whose
delta position Graph has forgotten (410, full resync), mail stamped in the connection's first second,
and a catch-up call whose result never reached the workflow: every item once, none twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.catch_up import CatchUpActivities
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from payloads.messages import CatchUpRequest
from tests.e2e.conftest import Stack
from tests.e2e.helpers import (
    CUSTOMER,
    api_call,
    emulator_requests,
    eventually,
    set_faults,
    wait_first_catch_up,
)
from tests.e2e.test_messages import connected_with_recipe, deliver, items
from tests.e2e.test_messages_reliability import all_outcomes, wait_items, wait_outcomes

pytestmark = pytest.mark.usefixtures("faults_cleared")


async def subscription_ids(stack: Stack, mailbox: str) -> list[str]:
    async with stack.emulator_control() as control:
        subs = (await control.get("/_emulator/subscriptions")).json()
    return [s["id"] for s in subs if s["mailbox"] == mailbox]


async def test_mail_during_subscription_gap_is_caught_up(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    [old] = await subscription_ids(stack, email)
    # Every notification POST waits 1 s, so these mails arrive while the mailbox has no subscription.
    await set_faults(stack, notification_delay_ms=1000)
    async with stack.emulator_control() as control:
        r = await control.delete(f"/_emulator/subscriptions/{old}")  # sends subscriptionRemoved
        assert r.status_code == 204, r.text
    names = [f"help in the gap {n}" for n in range(8)]
    ids = {(await deliver(stack, email, **{"from": CUSTOMER, "subject": name}))["id"] for name in names}

    async def resubscribed() -> list[str] | None:
        found = await subscription_ids(stack, email)
        return found if found and found != [old] else None

    await eventually(resubscribed, what="a new subscription")
    later = await deliver(stack, email, **{"from": CUSTOMER, "subject": "help after the gap"})
    names.append("help after the gap")
    ids.add(later["id"])

    made = await wait_items(stack, token, board_id, len(names))
    logged = await wait_outcomes(stack, token, connection_id, ids)
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == sorted(names)
    assert all(o["outcome"] == "processed" and o["items_created"] == 1 for o in logged), logged


async def test_missed_with_a_forgotten_delta_position_resyncs_without_repeats(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    first = [f"help first {n}" for n in range(5)]
    for name in first:
        await deliver(stack, email, **{"from": CUSTOMER, "subject": name})
    await wait_items(stack, token, board_id, len(first))
    async with stack.emulator_control() as control:
        r = await control.post(f"/_emulator/users/{email}/expire-delta")  # the next delta call: 410
        assert r.status_code in (200, 204), r.text
    # Every notification dropped: only `missed`, and a catch-up that must start a full round.
    await set_faults(stack, drop_rate=1.0)
    second = [f"help second {n}" for n in range(5)]
    for name in second:
        await deliver(stack, email, **{"from": CUSTOMER, "subject": name})

    made = await wait_items(stack, token, board_id, len(first) + len(second))
    everything = {o["message_id"] for o in await all_outcomes(stack, token, connection_id)}
    logged = await wait_outcomes(stack, token, connection_id, everything)
    assert sorted(i["name"] for i in made) == sorted(first + second)
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == sorted(first + second)
    assert len(logged) == len(first) + len(second)
    # The catch-up really met the forgotten position (410) and started over.
    deltas = [e for e in await emulator_requests(stack, email) if e["path"].endswith("/delta")]
    assert any(e["status"] == 410 for e in deltas), deltas
    assert all(o["outcome"] == "processed" and o["items_created"] == 1 for o in logged), logged


async def test_catch_up_keeps_mail_stamped_in_the_second_the_connection_was_made(stack: Stack) -> None:
    """Graph's receivedDateTime has whole seconds: a mail received in the connection's first second is
    stamped a little before the connection's creation and must still be caught up; hours-old mail not."""
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    r = await api_call(stack, token, "GET", f"/api/connections/{connection_id}")
    created = datetime.fromisoformat(r.json()["created_at"])
    await set_faults(stack, drop_rate=1.0)  # only `missed`: the catch-up alone must find them
    same_second = created.replace(microsecond=0)
    old = created - timedelta(hours=3)
    stamped = same_second.isoformat()
    kept = await deliver(
        stack, email, **{"from": CUSTOMER, "subject": "help, same second", "received": stamped}
    )
    ignored = await deliver(
        stack, email, **{"from": CUSTOMER, "subject": "help, hours old", "received": old.isoformat()}
    )
    trigger = await deliver(stack, email, **{"from": CUSTOMER, "subject": "help now"})

    made = await wait_items(stack, token, board_id, 2)
    logged = await wait_outcomes(stack, token, connection_id, {kept["id"], trigger["id"]})
    assert sorted(i["name"] for i in made) == ["help now", "help, same second"]
    assert ignored["id"] not in {o["message_id"] for o in logged}


def message_activities(stack: Stack) -> CatchUpActivities:
    """The worker's catch-up activity, built like worker.py builds it, to be called directly."""
    access = MailboxAccess.from_settings(stack.settings)
    return CatchUpActivities(access, stack.engine, AllowedFolders(access))


async def test_a_catch_up_call_whose_result_was_lost_finds_the_same_mail_again(stack: Stack) -> None:
    """The activity saves its new delta position before its result reaches the workflow; if the result
    is lost (worker killed, retries exhausted), the same call number must start where it started."""
    email, _token, connection_id, _board = await connected_with_recipe(stack)
    await wait_first_catch_up(stack, connection_id)
    # The workflow out of the way: only the calls below move the position from here on.
    await stack.env.client.get_workflow_handle(f"connection/{connection_id}").terminate("test")
    ids = {
        (await deliver(stack, email, **{"from": CUSTOMER, "subject": f"help {n}"}))["id"] for n in range(3)
    }

    env = ActivityEnvironment()
    activities = message_activities(stack)
    lost = await env.run(activities.catch_up_messages, CatchUpRequest(connection_id=connection_id, call=1000))
    again = await env.run(
        activities.catch_up_messages, CatchUpRequest(connection_id=connection_id, call=1000)
    )
    after = await env.run(
        activities.catch_up_messages, CatchUpRequest(connection_id=connection_id, call=1001)
    )
    assert set(lost.message_ids) == ids and lost.complete
    assert set(again.message_ids) == ids  # the same call again: from where it started, nothing skipped
    assert after.message_ids == []  # the next call: from the position the first one saved
