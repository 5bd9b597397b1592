"""The send workflow's steps (activities/send_email.py) alone in an ActivityEnvironment, against the
emulator, OpenBao and the application database: render, the idempotent send, and the activity log.
tests/activities/test_send_email_workflow.py runs them in SendEmailWorkflow on a real Temporal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import send_ledger as ledger
from activities.send_email import UNCONFIRMED, internet_message_id
from activitylog import recent_outcomes
from db.engine import session_scope
from db.outgoing_sends import OutgoingSend
from db.recipes import RecipeRow
from payloads.sends import SEND_REFUSED, Outcome, SendRecord, SendResult, SendState
from recipes.email import facts_from_graph
from recipes.fields import ALWAYS
from recipes.loops import OWN_MARKER_HEADER, is_own_mail
from tests.activities.send_support import (
    Scenario,
    add_event,
    inbox,
    scenario,
    send_activities,
    sent_records,
)
from tests.activities.support import World


async def rendered_state(world: World, sc: Scenario) -> SendState:
    rendered = await ActivityEnvironment().run(send_activities(world).render_email, sc.request())
    assert rendered.email is not None, rendered.reason
    return SendState(request=sc.request(), email=rendered.email)


def set_row(world: World, sc: Scenario, **values: object) -> None:
    with session_scope(world.engine) as session:
        session.execute(
            update(OutgoingSend)
            .where(OutgoingSend.event_id == sc.event_id, OutgoingSend.recipe_id == sc.recipe_id)
            .values(**values)
        )


# ----- render -------------------------------------------------------------------------------------


async def test_render_fills_the_templates_from_the_item(world: World) -> None:
    sc = await scenario(world)
    rendered = await ActivityEnvironment().run(send_activities(world).render_email, sc.request())
    assert rendered.email is not None
    assert rendered.email.to == [sc.recipient]
    assert rendered.email.subject == f"Your invoice {sc.item_name} is done"
    assert "is now Done" in rendered.email.body
    assert rendered.recipe_name == "Done -> email"


async def test_render_skips_an_event_the_trigger_no_longer_matches(world: World) -> None:
    sc = await scenario(world)
    other = add_event(world, sc.board_id, sc.item_id, new_value="Working", old_value="Done")
    request = sc.request().model_copy(update={"event_id": other})
    rendered = await ActivityEnvironment().run(send_activities(world).render_email, request)
    assert rendered.email is None
    assert (rendered.outcome, rendered.reason) == (Outcome.SKIPPED, "the recipe's trigger no longer matches")


async def test_render_skips_a_disabled_recipe_and_fails_without_a_recipient(world: World) -> None:
    sc = await scenario(world, to="{column:Nowhere}")
    rendered = await ActivityEnvironment().run(send_activities(world).render_email, sc.request())
    assert (rendered.outcome, rendered.reason) == (
        Outcome.FAILED,
        "recipe 'Done -> email': no valid recipient address",
    )
    with session_scope(world.engine) as session:
        session.execute(
            update(RecipeRow).where(RecipeRow.id == uuid.UUID(sc.recipe_id)).values(enabled=False)
        )
    rendered = await ActivityEnvironment().run(send_activities(world).render_email, sc.request())
    assert (rendered.outcome, rendered.reason) == (Outcome.SKIPPED, "the recipe was deleted or disabled")


# ----- send ---------------------------------------------------------------------------------------


async def test_first_attempt_sends_once_with_the_marker_and_the_derived_id(world: World) -> None:
    sc = await scenario(world)
    state = await rendered_state(world, sc)
    acts = send_activities(world)

    outcome = await ActivityEnvironment().run(acts.send_email, state)
    again = await ActivityEnvironment().run(acts.send_email, state)

    assert (outcome.state, again.state) == ("sent", "already sent")
    arrived = await inbox(world, sc.recipient)
    assert len(arrived) == 1
    imid = internet_message_id(sc.request(), sc.mailbox.email)
    assert arrived[0]["internetMessageId"] == imid
    assert imid.endswith(f"@{sc.mailbox.email.split('@')[1]}>")
    headers = {h["name"].lower(): h["value"] for h in arrived[0]["internetMessageHeaders"]}
    assert headers[OWN_MARKER_HEADER] == f"send/{sc.event_id}/{sc.recipe_id}"
    assert ledger.state_of(world.engine, sc.request()) == "sent"


async def test_an_unknown_outcome_found_in_sent_items_is_not_sent_again(world: World) -> None:
    sc = await scenario(world)
    state = await rendered_state(world, sc)
    acts = send_activities(world)
    await ActivityEnvironment().run(acts.send_email, state)
    # As if the worker died after Graph's 202 but before the row said "sent".
    set_row(world, sc, state="attempted")

    outcome = await ActivityEnvironment().run(acts.send_email, state)

    assert (outcome.state, outcome.reason) == ("sent", "found in Sent Items after an unknown outcome")
    assert len(await inbox(world, sc.recipient)) == 1
    assert len(await sent_records(world, sc.mailbox.email)) == 1


async def test_not_in_sent_items_waits_out_the_grace_then_sends(world: World) -> None:
    sc = await scenario(world)
    state = await rendered_state(world, sc)
    imid = internet_message_id(sc.request(), sc.mailbox.email)
    # An attempt that never reached Graph (the worker died before the call): the row alone.
    ledger.claim(world.engine, sc.request(), imid)

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(send_activities(world).send_email, state)
    assert raised.value.type == UNCONFIRMED and not raised.value.non_retryable
    assert raised.value.next_retry_delay is not None
    assert timedelta(minutes=1) < raised.value.next_retry_delay <= timedelta(minutes=2)
    assert await inbox(world, sc.recipient) == []

    set_row(world, sc, attempted_at=datetime.now(UTC) - timedelta(minutes=3))
    outcome = await ActivityEnvironment().run(send_activities(world).send_email, state)
    assert outcome.state == "sent"
    assert len(await inbox(world, sc.recipient)) == 1
    with session_scope(world.engine) as session:
        row = session.get(OutgoingSend, (sc.event_id, sc.recipe_id))
        assert row is not None and (row.state, row.attempts) == ("sent", 2)


async def test_without_mail_read_an_unknown_outcome_is_never_sent_again(world: World) -> None:
    sc = await scenario(world, choices=("outgoing",))
    state = await rendered_state(world, sc)
    acts = send_activities(world)
    assert (await ActivityEnvironment().run(acts.send_email, state)).state == "sent"
    set_row(world, sc, state="attempted")

    outcome = await ActivityEnvironment().run(acts.send_email, state)
    again = await ActivityEnvironment().run(acts.send_email, state)

    assert outcome.state == again.state == "unknown"
    assert "no Mail.Read" in outcome.reason
    assert ledger.state_of(world.engine, sc.request()) == "unknown"
    assert len(await inbox(world, sc.recipient)) == 1
    assert not [r for r in await world.graph_requests(sc.mailbox) if "sentitems" in r["path"].lower()]


async def test_without_mail_send_nothing_is_sent_and_the_reason_says_why(world: World) -> None:
    sc = await scenario(world, choices=("incoming",))
    state = await rendered_state(world, sc)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(send_activities(world).send_email, state)
    assert raised.value.type == SEND_REFUSED and raised.value.non_retryable
    assert "Mail.Send" in raised.value.message
    assert ledger.state_of(world.engine, sc.request()) is None
    assert await inbox(world, sc.recipient) == []


async def test_throttling_honours_retry_after_and_the_next_attempt_sends_at_once(world: World) -> None:
    sc = await scenario(world)
    state = await rendered_state(world, sc)
    await world.set_faults(throttle=True)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(send_activities(world).send_email, state)
    assert raised.value.type == "Throttled" and raised.value.next_retry_delay is not None
    assert ledger.state_of(world.engine, sc.request()) is None  # refused before sending: forgotten
    await world.clear_faults()
    assert (await ActivityEnvironment().run(send_activities(world).send_email, state)).state == "sent"
    assert len(await inbox(world, sc.recipient)) == 1


# ----- record -------------------------------------------------------------------------------------


async def test_record_writes_an_outgoing_row_with_the_recipe(world: World) -> None:
    sc = await scenario(world)
    result = SendResult(outcome=Outcome.PROCESSED, reason="recipe 'Done -> email': sent")
    record = SendRecord(
        request=sc.request(), result=result, recipe_name="Done -> email", missing=["column:X"]
    )
    await ActivityEnvironment().run(send_activities(world).record_send, record)
    with session_scope(world.engine) as session:
        rows = recent_outcomes(session, uuid.UUID(sc.mailbox.connection_id), 10)
    assert [(r.message_id, r.direction, r.outcome) for r in rows] == [
        (f"send/{sc.event_id}/{sc.recipe_id}", "outgoing", "processed")
    ]
    assert '"missing": ["column:X"]' in (rows[0].details or "")


# ----- loop prevention ----------------------------------------------------------------------------


async def test_mail_sent_to_the_own_mailbox_is_recognised_as_this_services_own(world: World) -> None:
    """The message path drops mail carrying the service's header ("sent by this service"): the copy
    delivered to the sender's own inbox, fetched as the fetch step fetches it, carries it."""
    sc = await scenario(world, to_self=True)
    state = await rendered_state(world, sc)
    assert (await ActivityEnvironment().run(send_activities(world).send_email, state)).state == "sent"
    [arrived] = await inbox(world, sc.mailbox.email)

    fetched = await world.access.call(
        sc.mailbox.connection_id,
        lambda m: m.get_message(arrived["immutableId"], list(ALWAYS)),
    )
    assert is_own_mail(facts_from_graph(fetched))
