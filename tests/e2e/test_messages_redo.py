"""Failed messages redone through the API, on the whole stack: a message that failed because its
recipe's board lost its group is made once the group is back and the message is retried, and retrying
again makes nothing more (the outcome is no longer failed; the item ledger would refuse a second item)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import CUSTOMER, api_call, eventually
from tests.e2e.test_messages import connected_with_recipe, deliver, items, outcomes

pytestmark = pytest.mark.usefixtures("faults_cleared")


async def outcome_of(
    stack: Stack, token: str, connection_id: str, message_id: str, wanted: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        for o in await outcomes(stack, token, connection_id):
            if o["message_id"] == message_id and o["outcome"] == wanted:
                return o
        return None

    found: dict[str, Any] = await eventually(check, timeout=60, what=f"{message_id} {wanted}")
    return found


async def change_board(stack: Stack, token: str, board_id: str, changes: list[dict[str, Any]]) -> None:
    r = await api_call(stack, token, "PATCH", f"/api/boards/{board_id}", json={"changes": changes})
    assert r.status_code == 200, r.text


async def test_a_failed_message_retried_through_the_api_makes_its_item_once(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await change_board(
        stack,
        token,
        board_id,
        [{"op": "add_group", "title": "Later"}, {"op": "remove_group", "group": "New"}],
    )
    message = await deliver(stack, email, **{"from": CUSTOMER, "subject": "Need help now"})
    failed = await outcome_of(stack, token, connection_id, message["id"], "failed")
    assert "New" in failed["reason"], failed
    assert await items(stack, token, board_id) == []

    # Not failed: refused with the outcome named; another user's connection is not found.
    retry = f"/api/connections/{connection_id}/messages/{message['id']}/retry"
    unknown = await api_call(stack, token, "POST", f"/api/connections/{connection_id}/messages/nope/retry")
    assert unknown.status_code == 409 and "no outcome" in unknown.json()["detail"], unknown.text

    await change_board(stack, token, board_id, [{"op": "add_group", "title": "New"}])
    r = await api_call(stack, token, "POST", retry)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [message["id"]], "count": 1}
    done = await outcome_of(stack, token, connection_id, message["id"], "processed")
    assert done["items_created"] == 1, done
    assert [i["name"] for i in await items(stack, token, board_id)] == ["Need help now"]

    again = await api_call(stack, token, "POST", retry)
    assert again.status_code == 409, again.text
    assert again.json()["detail"] == "only a failed message is retried; its outcome is processed"
    every = await api_call(
        stack, token, "POST", f"/api/connections/{connection_id}/retry-failed", json={"since": since}
    )
    assert every.status_code == 200 and every.json() == {"data": [], "count": 0}, every.text
    bad = await api_call(
        stack, token, "POST", f"/api/connections/{connection_id}/retry-failed", json={"since": "x"}
    )
    assert bad.status_code == 422, bad.text
    assert [i["name"] for i in await items(stack, token, board_id)] == ["Need help now"]


async def test_retry_failed_redoes_every_failure_since_a_time(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    await change_board(
        stack,
        token,
        board_id,
        [{"op": "add_group", "title": "Later"}, {"op": "remove_group", "group": "New"}],
    )
    ids = [
        (await deliver(stack, email, **{"from": CUSTOMER, "subject": f"help {n}"}))["id"] for n in range(3)
    ]
    for message_id in ids:
        await outcome_of(stack, token, connection_id, message_id, "failed")
    await change_board(stack, token, board_id, [{"op": "add_group", "title": "New"}])

    path = f"/api/connections/{connection_id}/retry-failed"
    r = await api_call(stack, token, "POST", path, json={"since": since})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["data"]) == sorted(ids) and r.json()["count"] == 3
    for message_id in ids:
        await outcome_of(stack, token, connection_id, message_id, "processed")
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == [f"help {n}" for n in range(3)]
