"""What a connection leaves behind when its workflow is gone, and what two connections of one mailbox
do, against the emulator, OpenBao and a Temporal dev server.

- Disconnect after an operator terminated the workflow still deletes the subscription and the Vault
  secrets (the API signals-with-start a run that only cleans up).
- A subscription Graph still holds for the same connection (a 409 on create) is stale: it is deleted
  and the connection comes back active.
- Another live connection of the same mailbox owns the one subscription Microsoft allows per app and
  mailbox: the second connection is refused with a reason, and the first keeps working.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from activities.subscription_conflict import ANOTHER_CONNECTION
from tests.e2e.conftest import Stack
from tests.e2e.helpers import (
    api_call,
    connect,
    connected_mailbox,
    eventually,
    new_mailbox,
    vault_paths,
    wait_status,
)


async def emulator_subscriptions(stack: Stack, email: str) -> list[dict[str, Any]]:
    async with stack.emulator_control() as control:
        subs: list[dict[str, Any]] = (await control.get("/_emulator/subscriptions")).json()
    return [s for s in subs if s["mailbox"] == email]


async def terminate(stack: Stack, connection_id: str) -> None:
    handle = stack.env.client.get_workflow_handle(f"connection/{connection_id}")
    await handle.terminate(reason="operator test")


async def test_disconnect_after_the_workflow_was_terminated_removes_everything(stack: Stack) -> None:
    email, token, connection_id = await connected_mailbox(stack)
    assert len(await emulator_subscriptions(stack, email)) == 1
    await terminate(stack, connection_id)

    r = await api_call(stack, token, "DELETE", f"/api/connections/{connection_id}")
    assert r.status_code == 202, r.text
    await wait_status(stack, token, connection_id, "disconnected")
    assert vault_paths(stack, connection_id) == []
    assert await emulator_subscriptions(stack, email) == []


async def test_a_stale_subscription_of_the_same_connection_is_replaced(stack: Stack) -> None:
    email, token, connection_id = await connected_mailbox(stack)
    [old] = await emulator_subscriptions(stack, email)
    # The workflow is gone with its state; Graph still holds the subscription it made.
    await terminate(stack, connection_id)

    # Connecting the same mailbox again brings the same connection back, with a fresh workflow whose
    # create gets a 409 for the old subscription.
    browser = stack.browser()
    async with contextlib.aclosing(browser):
        assert (await browser.post(f"{stack.api_url}/signin", data={"token": token})).status_code == 200
        assert await connect(stack, browser, email) == connection_id
        await wait_status(stack, token, connection_id, "active")

        async def replaced() -> list[dict[str, Any]] | None:
            subs = await emulator_subscriptions(stack, email)
            return subs if len(subs) == 1 and subs[0]["id"] != old["id"] else None

        [new] = await eventually(replaced, what="the old subscription replaced")
        shown = await api_call(stack, token, "GET", f"/api/connections/{connection_id}")
        assert shown.json()["status"] == "active"
        assert new["id"] != old["id"]
        await api_call(stack, token, "DELETE", f"/api/connections/{connection_id}")
        await wait_status(stack, token, connection_id, "disconnected")


async def test_a_second_connection_of_a_connected_mailbox_is_refused_with_a_reason(stack: Stack) -> None:
    email = await new_mailbox(stack)
    first_browser, first_token = await stack.signed_in_user(f"first-{uuid.uuid4().hex[:6]}@acme.example")
    second_browser, second_token = await stack.signed_in_user(f"second-{uuid.uuid4().hex[:6]}@beta.example")
    async with contextlib.aclosing(first_browser), contextlib.aclosing(second_browser):
        first = await connect(stack, first_browser, email)
        await wait_status(stack, first_token, first, "active")
        [kept] = await emulator_subscriptions(stack, email)

        second = await connect(stack, second_browser, email)
        refused = await wait_status(stack, second_token, second, "invalid")
        assert refused["status_reason"] == ANOTHER_CONNECTION
        # The first connection still has its subscription and stays active.
        assert [s["id"] for s in await emulator_subscriptions(stack, email)] == [kept["id"]]
        first_now = await api_call(stack, first_token, "GET", f"/api/connections/{first}")
        assert first_now.json()["status"] == "active"

        # Once the first is disconnected, reconnecting the second brings it up.
        await api_call(stack, first_token, "DELETE", f"/api/connections/{first}")
        await wait_status(stack, first_token, first, "disconnected")
        r = await api_call(stack, second_token, "POST", f"/api/connections/{second}/reconnect")
        assert r.status_code == 200, r.text
        async with stack.emulator_control() as control:
            await control.post("/_emulator/consent", json={"email": email})
        page = await second_browser.get(r.json()["url"])
        assert page.status_code == 200, page.text
        await wait_status(stack, second_token, second, "active")
        assert len(await emulator_subscriptions(stack, email)) == 1
        await api_call(stack, second_token, "DELETE", f"/api/connections/{second}")
        await wait_status(stack, second_token, second, "disconnected")
