"""The connection workflow's activities (activities/connection.py) in an ActivityEnvironment: tokens,
the validity check, the inbox subscription (with Graph's one-per-app-and-mailbox rule) and the status
row, against the emulator, OpenBao and the application database."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.connection import ConnectionActivities
from activities.subscription_conflict import ANOTHER_CONNECTION, ANOTHER_INSTALLATION
from db.connections import Connection
from db.engine import session_scope
from payloads.connection import (
    MAILBOX_INVALID,
    SUBSCRIPTION_GONE,
    ConnectionRef,
    ConnectionStatus,
    StatusRecord,
    SubscriptionRef,
    SubscriptionRequest,
    ValidationResult,
)
from tests.activities.support import Mailbox, World
from tests.graph.support import ValidatingReceiver


def ref(mailbox: Mailbox) -> ConnectionRef:
    return ConnectionRef(connection_id=mailbox.connection_id, mailbox=mailbox.email)


def row(world: World, mailbox: Mailbox) -> Connection:
    with session_scope(world.engine) as session:
        found = session.get(Connection, uuid.UUID(mailbox.connection_id))
        assert found is not None
        session.expunge(found)
        return found


# ----- validity check -----------------------------------------------------------------------------


async def test_validate_mailbox_reads_one_inbox_id_and_nothing_else(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox = await world.connect()
    latest = await world.deliver(mailbox)
    stored_before = await world.tokens.load(mailbox.connection_id)

    with caplog.at_level(logging.DEBUG):
        result = await ActivityEnvironment().run(world.connection.validate_mailbox, ref(mailbox))

    # Nothing of the message is kept: not in the result (the workflow's history), the database (its
    # file and write-ahead log), the logs or the connection's secrets in Vault.
    assert latest not in repr(result)
    database = Path(str(world.engine.url.database))
    assert database.is_file(), database
    for file in (database, database.with_name(database.name + "-wal")):
        if file.exists():
            assert latest.encode() not in file.read_bytes(), file
    assert latest not in caplog.text
    assert await world.tokens.load(mailbox.connection_id) == stored_before

    assert result == ValidationResult(ok=True)
    (asked,) = await world.graph_requests(mailbox)
    assert (asked["method"], asked["path"].lower(), asked["select"], asked["status"]) == (
        "GET",
        "/v1.0/me/mailfolders/inbox/messages",
        ["id"],
        200,
    )
    # The id searched for above is the one the check was given.
    assert await world.access.call(mailbox.connection_id, lambda m: m.latest_inbox_message_id()) == latest


async def test_validate_mailbox_of_a_send_only_connection_reads_the_profile(world: World) -> None:
    mailbox = await world.connect(choices=("outgoing",))

    result = await ActivityEnvironment().run(world.connection.validate_mailbox, ref(mailbox))

    assert result.ok is True
    assert [r["path"].lower() for r in await world.graph_requests(mailbox)] == ["/v1.0/me"]


async def test_validate_mailbox_refused_by_microsoft_is_invalid(world: World) -> None:
    # On the consent page the user ticked only "send mail": neither the inbox nor the profile is allowed.
    mailbox = await world.connect(granted=["Mail.Send"])

    result = await ActivityEnvironment().run(world.connection.validate_mailbox, ref(mailbox))

    assert result == ValidationResult(
        ok=False, reason="the mailbox was connected without User.Read: connect it again"
    )
    # Refused before the network: the client knows the grant (graph.mail ScopeNotGranted).
    assert await world.graph_requests(mailbox) == []


# ----- tokens -------------------------------------------------------------------------------------


async def test_refresh_tokens_rotates_them_in_vault(world: World) -> None:
    mailbox = await world.connect()
    before = await world.tokens.load(mailbox.connection_id)

    refreshed = await ActivityEnvironment().run(world.connection.refresh_tokens, ref(mailbox))

    after = await world.tokens.load(mailbox.connection_id)
    assert refreshed.access_expires_at == after.expires_at
    assert after.obtained_at > before.obtained_at
    assert after.access_token.get_secret_value() != before.access_token.get_secret_value()
    assert after.refresh_token.get_secret_value() != before.refresh_token.get_secret_value()
    assert (after.mailbox, after.scopes) == (before.mailbox, before.scopes)
    described = await ActivityEnvironment().run(world.connection.describe_tokens, ref(mailbox))
    assert described.access_expires_at == after.expires_at


# ----- status -------------------------------------------------------------------------------------


async def test_record_connection_status_writes_the_row(world: World) -> None:
    mailbox = await world.connect()
    bystander = await world.connect()
    before = row(world, mailbox)
    expires = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    await ActivityEnvironment().run(
        world.connection.record_connection_status,
        StatusRecord(
            connection_id=mailbox.connection_id,
            status=ConnectionStatus.REVOKED,
            status_reason="consent revoked or password reset by an admin",
            subscription_expires_at=expires,
        ),
    )

    after = row(world, mailbox)
    assert (after.status, after.status_reason, after.subscription_expires_at) == (
        "revoked",
        "consent revoked or password reset by an admin",
        expires,
    )
    assert after.updated_at > before.updated_at
    untouched = row(world, bystander)
    assert (untouched.status, untouched.status_reason) == ("active", "")


# ----- subscription -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[ValidatingReceiver]:
    """The service's webhooks as far as Graph's validation handshake goes (no API runs here)."""
    running = ValidatingReceiver().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def subscribing(world: World, receiver: ValidatingReceiver) -> AsyncIterator[ConnectionActivities]:
    """The connection activities of a service whose public URL is the receiver's."""
    yield ConnectionActivities(world.access, world.engine, receiver.base)


async def emulator_subscriptions(world: World, mailbox: Mailbox) -> list[dict[str, Any]]:
    async with world.control() as c:
        r = await c.get("/subscriptions")
    assert r.status_code == 200, r.text
    return [s for s in r.json() if s["mailbox"] == mailbox.email]


async def test_create_subscription_keeps_its_client_state_in_vault_and_records_it(
    world: World, subscribing: ConnectionActivities, receiver: ValidatingReceiver
) -> None:
    mailbox = await world.connect()

    info = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )

    (made,) = await emulator_subscriptions(world, mailbox)
    assert made["id"] == info.subscription_id
    assert made["notification_url"] == f"{receiver.base}/webhooks/graph"
    assert made["lifecycle_url"] == f"{receiver.base}/webhooks/graph/lifecycle"
    assert made["change_types"] == ["created"]
    assert "inbox" in made["resource"].lower()
    stored = await world.tokens.load_client_state(mailbox.connection_id)
    assert made["client_state"] == stored.get_secret_value()
    recorded = row(world, mailbox)
    assert recorded.subscription_id == info.subscription_id
    assert recorded.subscription_expires_at == info.expires_at
    assert timedelta(days=2) < info.expires_at - datetime.now(UTC) <= timedelta(days=3)


async def test_renew_then_delete_subscription(world: World, subscribing: ConnectionActivities) -> None:
    mailbox = await world.connect()
    created = await ActivityEnvironment().run(
        subscribing.create_subscription,
        SubscriptionRequest(connection_id=mailbox.connection_id, lifetime=timedelta(days=1)),
    )
    sub = SubscriptionRef(
        connection_id=mailbox.connection_id,
        subscription_id=created.subscription_id,
        lifetime=timedelta(days=2),
    )

    renewed = await ActivityEnvironment().run(subscribing.renew_subscription, sub)
    assert renewed.expires_at - created.expires_at > timedelta(hours=23)
    assert row(world, mailbox).subscription_expires_at == renewed.expires_at

    await ActivityEnvironment().run(subscribing.delete_subscription, sub)
    assert await emulator_subscriptions(world, mailbox) == []
    gone = row(world, mailbox)
    assert (gone.subscription_id, gone.subscription_expires_at) == (None, None)
    # Already gone is what a delete wants: no error the second time.
    await ActivityEnvironment().run(subscribing.delete_subscription, sub)

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(subscribing.renew_subscription, sub)
    assert raised.value.type == SUBSCRIPTION_GONE
    assert raised.value.non_retryable is True


async def test_create_subscription_replaces_a_stale_one_of_its_own(
    world: World, subscribing: ConnectionActivities
) -> None:
    """A create whose answer was lost: Graph answers the next one 409, the stale one goes."""
    mailbox = await world.connect()
    request = SubscriptionRequest(connection_id=mailbox.connection_id)
    lost = await ActivityEnvironment().run(subscribing.create_subscription, request)

    again = await ActivityEnvironment().run(subscribing.create_subscription, request)

    assert again.subscription_id != lost.subscription_id
    assert [s["id"] for s in await emulator_subscriptions(world, mailbox)] == [again.subscription_id]
    assert row(world, mailbox).subscription_id == again.subscription_id
    statuses = [
        r["status"]
        for r in await world.graph_requests(mailbox)
        if r["path"].startswith("/v1.0/subscriptions")
    ]
    assert 409 in statuses


async def test_create_subscription_leaves_another_live_connections_alone(
    world: World, subscribing: ConnectionActivities
) -> None:
    first = await world.connect()
    held = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=first.connection_id)
    )
    second = await world.connect(email=first.email)  # another user connects the same mailbox

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            subscribing.create_subscription, SubscriptionRequest(connection_id=second.connection_id)
        )

    assert raised.value.type == MAILBOX_INVALID
    assert raised.value.non_retryable is True
    assert raised.value.message == ANOTHER_CONNECTION
    assert [s["id"] for s in await emulator_subscriptions(world, first)] == [held.subscription_id]


async def test_create_subscription_leaves_another_installation_alone(
    world: World, subscribing: ConnectionActivities, receiver: ValidatingReceiver
) -> None:
    mailbox = await world.connect()
    held = await ActivityEnvironment().run(
        subscribing.create_subscription, SubscriptionRequest(connection_id=mailbox.connection_id)
    )
    elsewhere = ConnectionActivities(world.access, world.engine, f"{receiver.base}/another-installation")
    ours = await world.connect(email=mailbox.email)

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            elsewhere.create_subscription, SubscriptionRequest(connection_id=ours.connection_id)
        )

    assert raised.value.type == MAILBOX_INVALID
    assert raised.value.non_retryable is True
    assert raised.value.message == ANOTHER_INSTALLATION
    assert [s["id"] for s in await emulator_subscriptions(world, mailbox)] == [held.subscription_id]
