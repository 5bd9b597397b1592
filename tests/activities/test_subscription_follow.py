"""The subscription follows the recipes' folders (activities/connection.py with
activities/subscription_resource.py): created on the resource the recipes call for, switched both ways by
follow_recipe_folders (the new one created before the old one is deleted) and by a renewal, against the
emulator, OpenBao and the application database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.connection import ConnectionActivities
from activities.subscription_resource import INBOX_RESOURCE, MAILBOX_RESOURCE, same_resource
from db.connections import Connection
from db.engine import session_scope
from db.recipes import RecipeRow
from payloads.connection import SubscriptionInfo, SubscriptionRef, SubscriptionRequest
from tests.activities.support import Mailbox, World
from tests.graph.support import ValidatingReceiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[ValidatingReceiver]:
    running = ValidatingReceiver().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def subscribing(world: World, receiver: ValidatingReceiver) -> AsyncIterator[ConnectionActivities]:
    yield ConnectionActivities(world.access, world.engine, receiver.base)


async def live_subscriptions(world: World, mailbox: Mailbox) -> list[dict[str, Any]]:
    async with world.control() as c:
        r = await c.get("/subscriptions")
    assert r.status_code == 200, r.text
    return [s for s in r.json() if s["mailbox"] == mailbox.email]


def recorded_subscription(world: World, mailbox: Mailbox) -> str | None:
    with session_scope(world.engine) as session:
        found = session.get(Connection, uuid.UUID(mailbox.connection_id))
        assert found is not None
        return found.subscription_id


def set_enabled(world: World, recipe_id: str, enabled: bool) -> None:
    with session_scope(world.engine) as session:
        found = session.get(RecipeRow, uuid.UUID(recipe_id))
        assert found is not None
        found.enabled = enabled


def follow_ref(mailbox: Mailbox, info: SubscriptionInfo) -> SubscriptionRef:
    return SubscriptionRef(connection_id=mailbox.connection_id, subscription_id=info.subscription_id)


async def subscription_calls(world: World, mailbox: Mailbox) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"].removeprefix("/v1.0"))
        for e in await world.graph_requests(mailbox)
        if "/subscriptions" in e["path"]
    ]


async def test_create_subscription_watches_the_whole_mailbox_when_a_recipe_watches_a_custom_folder(
    world: World, subscribing: ConnectionActivities
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    world.add_recipe(mailbox, board, name="Inbox support")
    world.add_recipe(mailbox, board, name="Filed support", folder=await world.add_folder(mailbox, "Support"))

    info = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )

    (made,) = await live_subscriptions(world, mailbox)
    assert made["id"] == info.subscription_id == recorded_subscription(world, mailbox)
    assert made["resource"] == MAILBOX_RESOURCE


async def test_create_subscription_ignores_disabled_recipes_and_watches_the_inbox(
    world: World, subscribing: ConnectionActivities
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    folder = await world.add_folder(mailbox, "Support")
    world.add_recipe(mailbox, board, folder=folder, enabled=False)

    await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )

    (made,) = await live_subscriptions(world, mailbox)
    assert same_resource(made["resource"], INBOX_RESOURCE)


async def test_follow_recipe_folders_switches_both_ways_creating_before_deleting(
    world: World, subscribing: ConnectionActivities
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    world.add_recipe(mailbox, board)
    inbox = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )

    # Nothing changed: the same subscription back, nothing written.
    same = await ActivityEnvironment().run(subscribing.follow_recipe_folders, follow_ref(mailbox, inbox))
    assert same.subscription_id == inbox.subscription_id
    assert [s["id"] for s in await live_subscriptions(world, mailbox)] == [inbox.subscription_id]

    # A recipe now watches a custom folder: the whole mailbox, created first, then the inbox one deleted.
    recipe = world.add_recipe(mailbox, board, name="Filed", folder=await world.add_folder(mailbox, "Filed"))
    async with world.control() as c:
        assert (await c.delete("/requests")).status_code == 204
    whole = await ActivityEnvironment().run(subscribing.follow_recipe_folders, follow_ref(mailbox, inbox))
    assert whole.subscription_id != inbox.subscription_id
    (live,) = await live_subscriptions(world, mailbox)
    assert (live["id"], live["resource"]) == (whole.subscription_id, MAILBOX_RESOURCE)
    assert recorded_subscription(world, mailbox) == whole.subscription_id
    calls = await subscription_calls(world, mailbox)
    assert calls == [
        ("GET", f"/subscriptions/{inbox.subscription_id}"),
        ("POST", "/subscriptions"),
        ("DELETE", f"/subscriptions/{inbox.subscription_id}"),
    ]

    # That recipe disabled: back to the inbox, again created before the old one goes.
    set_enabled(world, recipe, False)
    async with world.control() as c:
        assert (await c.delete("/requests")).status_code == 204
    back = await ActivityEnvironment().run(subscribing.follow_recipe_folders, follow_ref(mailbox, whole))
    (live,) = await live_subscriptions(world, mailbox)
    assert live["id"] == back.subscription_id == recorded_subscription(world, mailbox)
    assert same_resource(live["resource"], INBOX_RESOURCE)
    assert [m for m, _ in await subscription_calls(world, mailbox)] == ["GET", "POST", "DELETE"]


async def test_follow_recipe_folders_creates_one_when_graph_lost_it(
    world: World, subscribing: ConnectionActivities
) -> None:
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    world.add_recipe(mailbox, board, folder=await world.add_folder(mailbox, "Filed"))
    lost = SubscriptionRef(connection_id=mailbox.connection_id, subscription_id=str(uuid.uuid4()))

    made = await ActivityEnvironment().run(subscribing.follow_recipe_folders, lost)

    (live,) = await live_subscriptions(world, mailbox)
    assert (live["id"], live["resource"]) == (made.subscription_id, MAILBOX_RESOURCE)


async def test_renewal_replaces_a_subscription_the_recipes_no_longer_fit(
    world: World, subscribing: ConnectionActivities
) -> None:
    """A lost `recipes_changed` signal heals at the next renewal."""
    mailbox = await world.connect()
    board = world.add_board(mailbox)
    inbox = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )
    world.add_recipe(mailbox, board, folder=await world.add_folder(mailbox, "Filed"))

    renewed = await ActivityEnvironment().run(subscribing.renew_subscription, follow_ref(mailbox, inbox))

    assert renewed.subscription_id != inbox.subscription_id
    (live,) = await live_subscriptions(world, mailbox)
    assert (live["id"], live["resource"]) == (renewed.subscription_id, MAILBOX_RESOURCE)

    # And a renewal that fits only renews.
    again = await ActivityEnvironment().run(subscribing.renew_subscription, follow_ref(mailbox, renewed))
    assert again.subscription_id == renewed.subscription_id
