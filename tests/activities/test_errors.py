"""Which failures an activity lets Temporal retry, and when (activities/errors.py `retry_semantics`),
produced by the emulator's faults and revocations, not by raising the client's errors by hand:

- Graph throttling (429 with Retry-After): retryable, the next attempt exactly after Retry-After;
- Graph unavailable (503 without Retry-After), or Graph, the identity platform or Vault unreachable:
  retryable with the policy's backoff;
- a revoked grant, or no tokens at all: non-retryable GrantRevoked (only the user can fix it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from config.settings import Settings
from graph.identity_errors import REASONS
from payloads.connection import GRANT_REVOKED, ConnectionRef
from payloads.messages import CatchUpRequest, FolderCheck, MessageInput
from tests.activities.support import SHORT_TOKEN_SECONDS, Mailbox, World, build_world
from tests.support.servers import free_port

Step = Callable[[World, Mailbox, str], Awaitable[object]]


def _check_folder(world: World, mailbox: Mailbox, message_id: str) -> Awaitable[object]:
    return ActivityEnvironment().run(
        world.steps.check_folder, MessageInput(connection_id=mailbox.connection_id, message_id=message_id)
    )


def _fetch_message(world: World, mailbox: Mailbox, message_id: str) -> Awaitable[object]:
    return ActivityEnvironment().run(
        world.steps.fetch_message, MessageInput(connection_id=mailbox.connection_id, message_id=message_id)
    )


def _catch_up(world: World, mailbox: Mailbox, _message_id: str) -> Awaitable[object]:
    return ActivityEnvironment().run(
        world.catch_up.catch_up_messages, CatchUpRequest(connection_id=mailbox.connection_id, call=1)
    )


def _validate(world: World, mailbox: Mailbox, _message_id: str) -> Awaitable[object]:
    return ActivityEnvironment().run(
        world.connection.validate_mailbox, ConnectionRef(connection_id=mailbox.connection_id)
    )


GRAPH_STEPS: dict[str, Step] = {
    "check_folder": _check_folder,
    "fetch_message": _fetch_message,
    "catch_up_messages": _catch_up,
    "validate_mailbox": _validate,
}


async def _mailbox_with_mail(world: World) -> tuple[Mailbox, str]:
    mailbox = await world.connect()
    world.add_recipe(mailbox, world.add_board(mailbox))
    return mailbox, await world.deliver(mailbox)


@pytest.mark.parametrize("step", GRAPH_STEPS)
async def test_graph_throttling_retries_after_exactly_retry_after(world: World, step: str) -> None:
    mailbox, message_id = await _mailbox_with_mail(world)
    await world.set_faults(throttle=True)

    with pytest.raises(ApplicationError) as raised:
        await GRAPH_STEPS[step](world, mailbox, message_id)

    error = raised.value
    retry_after = world.graph_answers.last_retry_after()
    assert retry_after is not None
    assert retry_after > 0
    assert error.non_retryable is False
    assert error.type == "Throttled"
    assert error.next_retry_delay == timedelta(seconds=retry_after)
    statuses = [r["status"] for r in await world.graph_requests(mailbox)]
    assert statuses and statuses[-1] == 429, statuses


@pytest.mark.parametrize("step", GRAPH_STEPS)
async def test_graph_unavailable_without_retry_after_retries_with_the_policy_backoff(
    world: World, step: str
) -> None:
    mailbox, message_id = await _mailbox_with_mail(world)
    await world.set_faults(error_rate=1.0)

    with pytest.raises(ApplicationError) as raised:
        await GRAPH_STEPS[step](world, mailbox, message_id)

    error = raised.value
    last = world.graph_answers.answers[-1]
    assert (last.status, last.retry_after) == (503, None)
    assert error.non_retryable is False
    assert error.next_retry_delay is None
    assert error.type != GRANT_REVOKED


# AADSTS codes the emulator answers a refresh with, per revocation reason (emulator/README.md).
REVOCATIONS = {"consent_revoked": 50173, "admin_reset": 50173, "inactive": 700082, "mfa_required": 50076}


@pytest.mark.parametrize("reason", REVOCATIONS)
async def test_a_revoked_grant_is_not_retried(world: World, reason: str) -> None:
    mailbox = await world.connect()
    before = await world.tokens.load(mailbox.connection_id)
    await world.revoke(mailbox, reason)

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            world.connection.refresh_tokens, ConnectionRef(connection_id=mailbox.connection_id)
        )

    error = raised.value
    assert error.type == GRANT_REVOKED
    assert error.non_retryable is True
    assert error.message == REASONS[REVOCATIONS[reason]]
    # The dead refresh token is kept as it was (nothing half-written).
    after = await world.tokens.load(mailbox.connection_id)
    assert after.refresh_token.get_secret_value() == before.refresh_token.get_secret_value()


@pytest.mark.parametrize("step", GRAPH_STEPS)
async def test_a_step_whose_token_expired_after_a_revocation_is_not_retried(
    short_token_world: World, step: str
) -> None:
    world = short_token_world
    mailbox, message_id = await _mailbox_with_mail(world)
    await _check_folder(world, mailbox, message_id)  # the worker has resolved the inbox's id already
    await world.revoke(mailbox, "consent_revoked")
    await asyncio.sleep(SHORT_TOKEN_SECONDS + 0.5)  # Graph keeps honouring the access token until then
    answered_before = len(world.graph_answers.answers)

    with pytest.raises(ApplicationError) as raised:
        await GRAPH_STEPS[step](world, mailbox, message_id)

    assert raised.value.type == GRANT_REVOKED
    assert raised.value.non_retryable is True
    assert raised.value.message == REASONS[50173]
    # One Graph call, refused; the refresh (at the identity platform) was refused too, so no second one.
    # (The emulator's log cannot name the mailbox of an expired token: this is the worker's side.)
    assert [a.status for a in world.graph_answers.answers[answered_before:]] == [401]


async def test_a_step_whose_token_expired_refreshes_once_and_succeeds(short_token_world: World) -> None:
    world = short_token_world
    mailbox, message_id = await _mailbox_with_mail(world)
    before = await world.tokens.load(mailbox.connection_id)
    await asyncio.sleep(SHORT_TOKEN_SECONDS + 0.5)

    check = await _check_folder(world, mailbox, message_id)

    assert isinstance(check, FolderCheck) and check.allowed and check.folder_id
    on_message = [a.status for a in world.graph_answers.answers if "/messages/" in a.path]
    assert on_message == [401, 200]
    after = await world.tokens.load(mailbox.connection_id)
    # The rotated refresh token is what Vault keeps now (the old one no longer works).
    assert after.obtained_at > before.obtained_at
    assert after.refresh_token.get_secret_value() != before.refresh_token.get_secret_value()


async def test_a_connection_without_tokens_is_not_retried(world: World) -> None:
    mailbox, message_id = await _mailbox_with_mail(world)
    await ActivityEnvironment().run(
        world.connection.destroy_connection_secrets, ConnectionRef(connection_id=mailbox.connection_id)
    )
    assert not await world.tokens.exists(mailbox.connection_id)

    for step in (_check_folder, _fetch_message, _validate):
        with pytest.raises(ApplicationError) as raised:
            await step(world, mailbox, message_id)
        assert raised.value.type == GRANT_REVOKED
        assert raised.value.non_retryable is True
        assert "connect the mailbox again" in raised.value.message
    assert await world.message_requests(mailbox, message_id) == []


@pytest.mark.parametrize(
    ("down", "error_type"),
    [("graph", "GraphUnavailable"), ("identity", "IdentityUnavailable"), ("vault", "VaultUnavailable")],
)
async def test_a_dependency_that_cannot_be_reached_is_retried(
    world: World, activity_settings: Settings, down: str, error_type: str
) -> None:
    """Nothing listens where the worker expects Graph, the identity platform or Vault: retrying later
    (with the policy's backoff) is all a worker can do."""
    mailbox, message_id = await _mailbox_with_mail(world)
    nowhere = f"127.0.0.1:{free_port()}"
    moved = {
        "graph": {"ms_graph_base_url": f"https://{nowhere}/v1.0"},
        "identity": {"ms_authority": f"https://{nowhere}/common"},
        "vault": {"vault_addr": f"http://{nowhere}"},
    }[down]
    async with build_world(
        activity_settings.model_copy(update=moved), world.engine, world.emulator
    ) as cut_off:
        with pytest.raises(ApplicationError) as raised:
            if down == "identity":
                await ActivityEnvironment().run(
                    cut_off.connection.refresh_tokens, ConnectionRef(connection_id=mailbox.connection_id)
                )
            else:
                await _check_folder(cut_off, mailbox, message_id)

    error = raised.value
    assert error.non_retryable is False
    assert error.next_retry_delay is None
    assert error.type == error_type
