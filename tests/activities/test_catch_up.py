"""catch_up_messages (activities/catch_up.py) in an ActivityEnvironment over the emulator's delta query:
its heartbeats (one per page), its chunks and where it resumes (the position in the application
database, per the workflow's call number), and a cancellation in the middle of a large round."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.catch_up import DELTA_PAGE_SIZE
from db.engine import session_scope
from db.sync_state import MailSyncState
from payloads.connection import ConnectionRef
from payloads.messages import (
    CatchUpRequest,
    CatchUpResult,
    MessageInput,
    MessageResult,
    Outcome,
    OutcomeRecord,
)
from tests.activities.support import SHORT_TOKEN_SECONDS, Mailbox, World

Position = tuple[str | None, str | None, int | None, str | None]


async def deliver_many(world: World, mailbox: Mailbox, count: int) -> list[str]:
    """`count` messages into the inbox (a few at a time); their ids in delivery order."""
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> str:
        async with gate:
            return await world.deliver(mailbox, subject=f"Need help #{n}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def position(world: World, mailbox: Mailbox) -> Position | None:
    """The saved position: (delta link, resume link, last call, where that call started)."""
    with session_scope(world.engine) as session:
        state = session.get(MailSyncState, (uuid.UUID(mailbox.connection_id), "inbox"))
        if state is None:
            return None
        return state.delta_link, state.resume_link, state.last_call, state.previous_link


async def catch_up(
    world: World,
    mailbox: Mailbox,
    call: int,
    *,
    limit: int = 1000,
    env: ActivityEnvironment | None = None,
    on_page: Callable[[int], None] | None = None,
) -> tuple[CatchUpResult, list[tuple[Any, ...]]]:
    """One call, as the workflow makes it; the result and the heartbeats' details. `on_page` runs at
    each heartbeat, with the number of heartbeats so far."""
    env = env or ActivityEnvironment()
    beats: list[tuple[Any, ...]] = []

    def heartbeat(*details: Any) -> None:
        beats.append(details)
        if on_page is not None:
            on_page(len(beats))

    env.on_heartbeat = heartbeat
    request = CatchUpRequest(connection_id=mailbox.connection_id, limit=limit, call=call)
    result = await env.run(world.catch_up.catch_up_messages, request)
    return result, beats


async def test_heartbeats_once_per_page_and_asks_for_ids_only(world: World) -> None:
    mailbox = await world.connect()
    delivered = await deliver_many(world, mailbox, 2 * DELTA_PAGE_SIZE + 50)

    result, beats = await catch_up(world, mailbox, call=1)

    assert beats == [(1,), (2,), (3,)]
    assert result.complete is True
    assert sorted(result.message_ids) == sorted(delivered)
    assert len(result.message_ids) == len(delivered)
    delta_link, resume_link, last_call, started_from = position(world, mailbox) or (None,) * 4
    assert delta_link is not None
    assert resume_link is None
    assert (last_call, started_from) == (1, None)
    selects = [r["select"] for r in await world.graph_requests(mailbox) if r["path"].endswith("/delta")]
    assert selects and all(s == ["id"] for s in selects), selects


async def test_a_round_in_chunks_resumes_where_the_last_call_stopped(world: World) -> None:
    mailbox = await world.connect()
    delivered = await deliver_many(world, mailbox, 2 * DELTA_PAGE_SIZE + 50)

    first, first_beats = await catch_up(world, mailbox, call=1, limit=150)
    assert first_beats == [(1,), (2,)]  # stopped at the page that passed the limit
    assert first.complete is False
    assert len(first.message_ids) == 2 * DELTA_PAGE_SIZE
    after_first = position(world, mailbox)
    assert after_first is not None
    assert after_first[0] is None and after_first[1] is not None  # inside the round, no delta link yet

    second, second_beats = await catch_up(world, mailbox, call=2, limit=150)
    assert second_beats == [(1,)]
    assert second.complete is True
    assert sorted(first.message_ids + second.message_ids) == sorted(delivered)

    # Call 2's result never reached the workflow (say the worker died): the same call again starts
    # where call 2 started, so nothing it found is lost.
    again, _ = await catch_up(world, mailbox, call=2, limit=150)
    assert again.message_ids == second.message_ids
    assert again.complete is True

    # The next call starts from the delta link: nothing new.
    later, _ = await catch_up(world, mailbox, call=3, limit=150)
    assert later == CatchUpResult(message_ids=[], complete=True)
    newer = await world.deliver(mailbox, subject="Need help again")
    newest, _ = await catch_up(world, mailbox, call=4, limit=150)
    assert newest.message_ids == [newer]


async def test_messages_that_have_an_outcome_are_left_out(world: World) -> None:
    mailbox = await world.connect()
    handled, *others = await deliver_many(world, mailbox, 3)
    await ActivityEnvironment().run(
        world.steps.record_outcome,
        OutcomeRecord(
            connection_id=mailbox.connection_id,
            message_id=handled,
            result=MessageResult(outcome=Outcome.SKIPPED, reason="folder"),
        ),
    )

    result, _ = await catch_up(world, mailbox, call=1)

    assert sorted(result.message_ids) == sorted(others)


async def test_messages_that_left_the_inbox_are_left_out(world: World) -> None:
    mailbox = await world.connect()
    moved, deleted, stays = await deliver_many(world, mailbox, 3)
    await catch_up(world, mailbox, call=1)
    await world.move_message(mailbox, moved, "junkemail")
    await world.delete_message(mailbox, deleted)
    new = await world.deliver(mailbox, subject="Need help again")

    result, _ = await catch_up(world, mailbox, call=2)

    assert result.message_ids == [new]
    assert stays not in result.message_ids


async def test_the_first_round_skips_mail_older_than_the_connection(world: World) -> None:
    mailbox = await world.connect()
    old = await world.deliver(mailbox, received=(datetime.now(UTC) - timedelta(hours=2)).isoformat())
    new = await world.deliver(mailbox)

    result, _ = await catch_up(world, mailbox, call=1)

    assert result.message_ids == [new]
    assert old not in result.message_ids


async def test_a_forgotten_position_starts_a_full_round_again(world: World) -> None:
    mailbox = await world.connect()
    first = await deliver_many(world, mailbox, 2)
    await catch_up(world, mailbox, call=1)
    async with world.control() as c:
        r = await c.post(f"/users/{mailbox.email}/expire-delta")
        assert r.status_code in (200, 204), r.text
    later = await world.deliver(mailbox)

    result, _ = await catch_up(world, mailbox, call=2)

    assert sorted(result.message_ids) == sorted([*first, later])
    assert [r["status"] for r in await world.graph_requests(mailbox) if r["path"].endswith("/delta")][
        -2:
    ] == [
        410,
        200,
    ]


@pytest.mark.parametrize("saved_at", ["round complete", "inside a round"])
async def test_cancelled_while_paging_a_large_round_it_stops_and_keeps_the_last_saved_position(
    world: World, saved_at: str
) -> None:
    """Five pages of the round are left either way; the cancellation comes after two."""
    mailbox = await world.connect()
    if saved_at == "round complete":
        found_before: list[str] = []
        await catch_up(world, mailbox, call=1)  # an empty inbox: the first round completes at once
        delivered = await deliver_many(world, mailbox, 5 * DELTA_PAGE_SIZE)
    else:
        delivered = await deliver_many(world, mailbox, 7 * DELTA_PAGE_SIZE)
        first, _ = await catch_up(world, mailbox, call=1, limit=2 * DELTA_PAGE_SIZE)
        assert first.complete is False
        found_before = first.message_ids
    saved = position(world, mailbox)
    assert saved is not None
    delta_before = len([r for r in await world.graph_requests(mailbox) if r["path"].endswith("/delta")])

    env = ActivityEnvironment()
    beats: list[int] = []

    def after_page(page: int) -> None:
        beats.append(page)
        if page == 2:
            env.cancel()  # as the server answers a heartbeat once the workflow cancels the activity

    with pytest.raises(asyncio.CancelledError):
        await catch_up(world, mailbox, call=2, limit=10_000, env=env, on_page=after_page)

    assert beats == [1, 2]
    delta_pages = [r for r in await world.graph_requests(mailbox) if r["path"].endswith("/delta")]
    assert len(delta_pages) == delta_before + 2  # two pages of the five left: it stopped there
    assert position(world, mailbox) == saved

    # The workflow's next attempt of the same call finds every message of the round not found before.
    result, again = await catch_up(world, mailbox, call=2, limit=10_000)
    assert sorted(found_before + result.message_ids) == sorted(delivered)
    assert result.complete is True
    assert again == [(page,) for page in range(1, 6)]  # the five pages left, none twice


async def test_a_token_that_expires_in_the_middle_of_a_round_is_refreshed_and_the_round_goes_on(
    short_token_world: World,
) -> None:
    world = short_token_world
    mailbox = await world.connect()
    delivered = await deliver_many(world, mailbox, 5 * DELTA_PAGE_SIZE)

    def after_page(page: int) -> None:
        if page == 2:
            # Holds the whole worker (this loop) until the access token the round started with has
            # expired: the third page's request is refused with 401.
            time.sleep(SHORT_TOKEN_SECONDS + 0.5)

    # A token fresh now lasts until the second page (not a moment's less into the first).
    await ActivityEnvironment().run(
        world.connection.refresh_tokens, ConnectionRef(connection_id=mailbox.connection_id)
    )
    result, beats = await catch_up(world, mailbox, call=1, on_page=after_page)

    delta = [a.status for a in world.graph_answers.answers if a.path.endswith("/delta")]
    assert delta.count(401) == 1, delta
    assert delta.count(200) == 5, delta  # page 3 asked for again, not the round from its start
    assert beats == [(page,) for page in range(1, 6)]
    assert sorted(result.message_ids) == sorted(delivered)
    assert result.complete is True


async def test_the_inbox_is_resolved_once_for_the_catch_up_and_the_steps(world: World) -> None:
    """The folder ids a catch-up resolved serve the message steps too (one cache per worker)."""
    mailbox = await world.connect()
    message_id = await world.deliver(mailbox)
    await catch_up(world, mailbox, call=1)

    check = await ActivityEnvironment().run(
        world.steps.check_folder, MessageInput(connection_id=mailbox.connection_id, message_id=message_id)
    )

    assert check.allowed
    folder_lookups = [
        r
        for r in await world.graph_requests(mailbox)
        if "/mailfolders/inbox" in r["path"].lower() and not r["path"].endswith(("/delta", "/messages"))
    ]
    assert len(folder_lookups) == 1
