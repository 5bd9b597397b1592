"""Resync end to end: a mail whose change notification never reached the service, and whose `missed`
lifecycle notice was lost as well, becomes an item only once an operator runs
`outlook-integration connections resync ID` (POST /api/connections/{id}/resync), which sends the
connection workflow the signal Graph's `missed` notice would have become."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

import pytest

from cli.app import run
from payloads.connection import LifecycleEvent
from tests.e2e.conftest import Stack
from tests.e2e.helpers import CUSTOMER, api_call, eventually, set_faults, wait_first_catch_up
from tests.e2e.test_messages import connected_with_recipe, deliver, items
from tests.e2e.test_messages_reliability import stats, wait_items, wait_outcomes
from webhooks.outbox import Outbox, OutboxEntry

pytestmark = pytest.mark.usefixtures("faults_cleared")

# Long enough for a `missed` that did reach the workflow to have made its item (the reliability tests
# see one within a second or two).
QUIET_SECONDS = 5.0


async def test_mail_the_webhook_missed_becomes_an_item_after_resync(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    # From here on only a catch-up finds mail the notifications did not bring.
    await wait_first_catch_up(stack, connection_id)

    # Graph's `missed` notice for this connection is lost too: the webhook accepts it, but it never gets
    # into the outbox, so the workflow is not told.
    lost: list[OutboxEntry] = []
    put = Outbox.put

    async def put_losing_missed(self: Outbox, entries: Sequence[OutboxEntry]) -> None:
        kept: list[OutboxEntry] = []
        for entry in entries:
            ours = str(entry.connection_id) == connection_id
            (lost if ours and entry.lifecycle_event is LifecycleEvent.MISSED else kept).append(entry)
        if kept:
            await put(self, kept)

    monkeypatch.setattr(Outbox, "put", put_losing_missed)
    dropped_before = (await stats(stack))["dropped"]
    await set_faults(stack, drop_notifications=True)
    mail = await deliver(stack, email, **{"from": CUSTOMER, "subject": "help while nobody listened"})

    async def notice_lost() -> bool:
        return bool(lost) and (await stats(stack))["dropped"] > dropped_before

    await eventually(notice_lost, what="the change notification dropped and its `missed` lost")
    await asyncio.sleep(QUIET_SECONDS)
    assert await items(stack, token, board_id) == []

    # The operator's command, against the running API.
    out, err = io.StringIO(), io.StringIO()
    code = await run(
        ["--api", stack.api_url, "--token", token, "connections", "resync", connection_id],
        stdout=out,
        stderr=err,
        stdin=io.StringIO(""),
        environ={},
    )
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith(f"Catch-up requested for {email}: ")

    made = await wait_items(stack, token, board_id, 1)
    logged = await wait_outcomes(stack, token, connection_id, {mail["id"]})
    assert [i["name"] for i in made] == ["help while nobody listened"]
    assert [(o["message_id"], o["outcome"], o["items_created"]) for o in logged] == [
        (mail["id"], "processed", 1)
    ]
    # Only the resync told the workflow: the lost notice never reached the outbox.
    assert len(lost) >= 1
    r = await api_call(
        stack, token, "GET", "/api/audit", params={"connection_id": connection_id, "limit": 500}
    )
    assert r.status_code == 200, r.text
    assert "resync_requested" in [e["kind"] for e in r.json()["data"]]
