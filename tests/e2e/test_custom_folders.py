"""A recipe watching a custom mail folder, on the whole stack (API, worker, Temporal, OpenBao, the
emulator): made through the API, it switches the connection's subscription from the inbox to the whole
mailbox within seconds; matching mail delivered into that folder becomes an item within seconds; the
same mail in the inbox (no inbox recipe) does not; mail in junk and sent items is read for its folder id
only; deleting the recipe switches the subscription back to the inbox."""

from __future__ import annotations

import time
from typing import Any

import pytest

from activities.subscription_resource import INBOX_RESOURCE, MAILBOX_RESOURCE, same_resource
from tests.e2e.conftest import Stack
from tests.e2e.helpers import (
    CUSTOMER,
    api_call,
    connected_mailbox,
    emulator_requests,
    eventually,
    remember_client_states,
)
from tests.e2e.test_messages import deliver, items, outcomes
from tests.replay.record import RECORD, write_histories

pytestmark = pytest.mark.usefixtures("faults_cleared")

# The switch and the item each take a signal, an activity or two and Graph's notification: seconds.
WITHIN_SECONDS = 10.0

SUPPORT = {
    "name": "Filed support",
    "groups": ["New"],
    "columns": [{"title": "From", "type": "email"}],
}


async def subscriptions(stack: Stack, email: str) -> list[dict[str, Any]]:
    async with stack.emulator_control() as control:
        r = await control.get("/_emulator/subscriptions")
        assert r.status_code == 200, r.text
    return [s for s in r.json() if s["mailbox"] == email]


async def wait_resource(stack: Stack, email: str, resource: str) -> dict[str, Any]:
    """The mailbox's only subscription, once it watches `resource` (the old one deleted)."""

    async def switched() -> dict[str, Any] | None:
        live = await subscriptions(stack, email)
        return live[0] if len(live) == 1 and same_resource(live[0]["resource"], resource) else None

    found: dict[str, Any] = await eventually(
        switched, timeout=WITHIN_SECONDS, what=f"a {resource} subscription"
    )
    return found


async def add_folder(stack: Stack, email: str, name: str) -> str:
    async with stack.emulator_control() as control:
        r = await control.post(f"/_emulator/users/{email}/folders", json={"display_name": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def test_a_custom_folder_recipe_watches_that_folder_and_only_reads_folder_ids_elsewhere(
    stack: Stack,
) -> None:
    email, token, connection_id = await connected_mailbox(stack)
    assert same_resource((await wait_resource(stack, email, INBOX_RESOURCE))["resource"], INBOX_RESOURCE)
    folder_id = await add_folder(stack, email, "Filed support")
    listed = await api_call(stack, token, "GET", f"/api/connections/{connection_id}/folders")
    assert listed.status_code == 200, listed.text
    assert folder_id in str(listed.json())
    board = await api_call(stack, token, "POST", "/api/boards", json=SUPPORT)
    assert board.status_code == 201, board.text
    board_id = board.json()["id"]

    recipe = await api_call(
        stack,
        token,
        "POST",
        "/api/recipes",
        json={
            "connection_id": connection_id,
            "name": "Filed support",
            "trigger": {
                "type": "email_received",
                "folder": folder_id,
                "conditions": {"from": ["*@customer.example"], "subject_contains": ["help"]},
            },
            "action": {
                "type": "create_item",
                "board_id": board_id,
                "group": "New",
                "item_name": "{subject}",
                "columns": {"From": "{from.address}"},
            },
        },
    )
    assert recipe.status_code == 201, recipe.text
    started = time.monotonic()
    await wait_resource(stack, email, MAILBOX_RESOURCE)
    switch_seconds = time.monotonic() - started

    # The catch-up that follows the switch goes over the new folder too (and, reading the recipes
    # afresh, lets the worker's folder check allow it at once instead of within its 2-second cache).
    async def folder_caught_up() -> bool:
        return any(
            folder_id in e["path"] and e["path"].endswith("/delta")
            for e in await emulator_requests(stack, email)
        )

    await eventually(folder_caught_up, timeout=WITHIN_SECONDS, what="a catch-up over the new folder")

    # Into the watched folder: an item within seconds.
    delivered_at = time.monotonic()
    filed = await deliver(
        stack, email, **{"from": CUSTOMER, "subject": "Need help (filed)", "folder": folder_id}
    )

    async def the_item() -> list[dict[str, Any]]:
        return [i for i in await items(stack, token, board_id) if i["name"] == "Need help (filed)"]

    await eventually(the_item, timeout=WITHIN_SECONDS, what="the filed mail's item")
    item_seconds = time.monotonic() - delivered_at
    print(
        f"\nsubscription switched in {switch_seconds:.2f} s; "
        f"filed mail became an item in {item_seconds:.2f} s"
    )

    # The same mail in the inbox, junk and sent items: no item; junk and sent items read for the folder only.
    in_inbox = await deliver(stack, email, **{"from": CUSTOMER, "subject": "Need help (inbox)"})
    in_junk = await deliver(
        stack, email, **{"from": CUSTOMER, "subject": "Need help (junk)", "folder": "junkemail"}
    )
    in_sent = await deliver(
        stack, email, **{"from": CUSTOMER, "subject": "Need help (sent)", "folder": "sentitems"}
    )
    watched = {filed["id"], in_inbox["id"], in_junk["id"], in_sent["id"]}

    async def all_logged() -> dict[str, dict[str, Any]] | None:
        logged = {o["message_id"]: o for o in await outcomes(stack, token, connection_id)}
        return logged if watched <= set(logged) else None

    logged = await eventually(all_logged, timeout=WITHIN_SECONDS * 3, what="the four outcomes")
    assert logged[filed["id"]]["outcome"] == "processed"
    # The inbox is allowed but no recipe watches it: checked, then matched against no recipe.
    assert (logged[in_inbox["id"]]["outcome"], logged[in_inbox["id"]]["reason"]) == (
        "skipped",
        "no recipe matched",
    )
    for other in (in_junk, in_sent):
        assert (logged[other["id"]]["outcome"], logged[other["id"]]["reason"]) == ("skipped", "folder")
    assert [i["name"] for i in await items(stack, token, board_id)] == ["Need help (filed)"]
    requests = await emulator_requests(stack, email)
    for other in (in_junk, in_sent):
        about = [e for e in requests if e["message_id"] == other["id"] or other["restId"] in e["path"]]
        assert about, f"the service never looked at {other['id']}"
        assert all(e["select"] == ["parentFolderId"] for e in about), about

    # The recipe deleted: back to the inbox.
    gone = await api_call(stack, token, "DELETE", f"/api/recipes/{recipe.json()['id']}")
    assert gone.status_code == 204, gone.text
    await wait_resource(stack, email, INBOX_RESOURCE)
    await remember_client_states(stack)
    if RECORD:
        await write_histories(stack.env.client, f"connection/{connection_id}", "connection-follows-folders")
