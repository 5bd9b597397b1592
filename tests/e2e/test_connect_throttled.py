"""Throttling reaches Temporal's retry as Graph asked: when Graph keeps answering 429, the Graph client
waits out Retry-After itself a couple of times, then the activity fails with `next_retry_delay` set to
Graph's last Retry-After (fractional seconds), so Temporal's next attempt comes exactly then and not
on the policy's backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.connection import ConnectionActivities
from activities.mailbox_access import MailboxAccess
from payloads.connection import ConnectionRef
from tests.e2e.conftest import Stack
from tests.e2e.helpers import connected_mailbox, emulator_requests, set_faults

pytestmark = pytest.mark.usefixtures("faults_cleared")


async def test_graph_retry_after_becomes_the_activity_next_retry_delay(stack: Stack) -> None:
    email, _token, connection_id = await connected_mailbox(stack)
    activities = ConnectionActivities(
        MailboxAccess.from_settings(stack.settings), stack.engine, stack.settings.public_base
    )
    before = len(await emulator_requests(stack, email))

    await set_faults(stack, throttle=True)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.validate_mailbox, ConnectionRef(connection_id=connection_id, mailbox=email)
        )

    error = raised.value
    assert error.type == "Throttled" and not error.non_retryable
    # The emulator answers a throttled call with Retry-After between 0.2 and 1.5 s, fractional.
    assert error.next_retry_delay is not None
    assert timedelta(seconds=0.2) <= error.next_retry_delay <= timedelta(seconds=1.5)
    # The validity check's calls only (the connection's own workflow may call Graph meanwhile): two
    # waits by the client itself, then the third 429 handed to Temporal.
    calls = [c for c in (await emulator_requests(stack, email))[before:] if c["path"].endswith("/messages")]
    assert [c["status"] for c in calls] == [429, 429, 429]
