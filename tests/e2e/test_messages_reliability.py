"""Nothing lost, nothing twice: dropped and repeated notifications, and mail the service is told about
after it left the inbox (junk, deleted items, sent items), with the emulator's faults doing the damage."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import CUSTOMER, api_call, emulator_requests, eventually, set_faults
from tests.e2e.test_messages import connected_with_recipe, deliver, items

pytestmark = pytest.mark.usefixtures("faults_cleared")


async def all_outcomes(stack: Stack, token: str, connection_id: str) -> list[dict[str, Any]]:
    r = await api_call(
        stack, token, "GET", f"/api/connections/{connection_id}/activity", params={"limit": 1000}
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


# Injected 503s carry no Retry-After, so a message's retries back off 1, 2, 4, ... 64 s: an unlucky one
# (a failure on 7 attempts in a row at 30% errors per call) needs about two minutes.
WAIT_SECONDS = 200


async def wait_items(stack: Stack, token: str, board_id: str, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        made = await items(stack, token, board_id)
        return made if len(made) >= count else None

    made: list[dict[str, Any]] = await eventually(enough, timeout=WAIT_SECONDS, what=f"{count} items")
    return made


async def wait_outcomes(stack: Stack, token: str, connection_id: str, ids: set[str]) -> list[dict[str, Any]]:
    async def all_there() -> list[dict[str, Any]] | None:
        logged = await all_outcomes(stack, token, connection_id)
        return logged if ids <= {o["message_id"] for o in logged} else None

    what = f"{len(ids)} outcomes"
    logged: list[dict[str, Any]] = await eventually(all_there, timeout=WAIT_SECONDS, what=what)
    return logged


async def stats(stack: Stack) -> dict[str, int]:
    async with stack.emulator_control() as control:
        body: dict[str, int] = (await control.get("/_emulator/stats")).json()
        return body


async def test_dropped_notifications_are_recovered_by_missed(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    dropped_before = (await stats(stack))["dropped"]
    await set_faults(stack, drop_rate=0.2, drop_seed=5)
    names = [f"Need help #{n}" for n in range(30)]
    ids = {(await deliver(stack, email, **{"from": CUSTOMER, "subject": name}))["id"] for name in names}
    dropped = (await stats(stack))["dropped"] - dropped_before
    assert 0 < dropped < len(names), dropped  # the fault really dropped some (and not all)

    made = await wait_items(stack, token, board_id, len(names))
    logged = await wait_outcomes(stack, token, connection_id, ids)
    # Settled: a late duplicate would show up as an extra item or a second outcome.
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == sorted(names)
    assert {o["message_id"] for o in logged} == ids
    assert all(o["outcome"] == "processed" and o["items_created"] == 1 for o in logged), logged


async def test_every_notification_three_times_makes_one_item(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    posts_before = await stats(stack)
    await set_faults(stack, duplicate_notifications=2)
    names = [f"Please help {n}" for n in range(12)]
    ids = {(await deliver(stack, email, **{"from": CUSTOMER, "subject": name}))["id"] for name in names}
    other = await deliver(stack, email, **{"from": "bob@elsewhere.example", "subject": "help"})
    ids.add(other["id"])

    made = await wait_items(stack, token, board_id, len(names))
    logged = await wait_outcomes(stack, token, connection_id, ids)
    after = await stats(stack)
    # Three copies of each notification were delivered (not only enqueued).
    assert after["delivered"] - posts_before["delivered"] >= 3 * len(ids)
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == sorted(names)
    per_message = Counter(o["message_id"] for o in logged)
    assert set(per_message) == ids and set(per_message.values()) == {1}
    by_id = {o["message_id"]: o for o in logged}
    assert by_id.pop(other["id"])["reason"] == "no recipe matched ('Support mail': from)"
    # A second run of a message would have replaced its outcome with items_created 0.
    assert all(o["outcome"] == "processed" and o["items_created"] == 1 for o in by_id.values()), logged


async def test_mail_moved_out_of_the_inbox_is_read_for_its_folder_only(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    # Notifications wait 1.5 s, so these mails have left the inbox when the service hears of them.
    await set_faults(stack, notification_delay_ms=1500)
    moved: dict[str, str] = {}
    async with stack.emulator_control() as control:
        for folder in ("junkemail", "deleteditems", "sentitems", "drafts"):
            msg = await deliver(stack, email, **{"from": CUSTOMER, "subject": f"help ({folder})"})
            r = await control.post(
                f"/_emulator/users/{email}/messages/{msg['id']}/move", json={"folder": folder}
            )
            assert r.status_code == 200, r.text
            moved[msg["id"]] = r.json()["restId"]
    # Mail delivered straight into junk: the inbox subscription never mentions it, and nothing reads it.
    junk = await deliver(stack, email, **{"from": CUSTOMER, "subject": "help (junk)", "folder": "junkemail"})
    # The control: a mail that stays in the inbox becomes an item.
    kept = await deliver(stack, email, **{"from": CUSTOMER, "subject": "help (inbox)"})

    made = await wait_items(stack, token, board_id, 1)
    logged = await wait_outcomes(stack, token, connection_id, {*moved, kept["id"]})
    assert [i["name"] for i in made] == ["help (inbox)"]
    outcome_of = {o["message_id"]: o for o in logged}
    for message_id in moved:
        assert (outcome_of[message_id]["outcome"], outcome_of[message_id]["reason"]) == ("skipped", "folder")
    assert junk["id"] not in outcome_of

    requests = await emulator_requests(stack, email)
    forbidden = {*moved, *moved.values(), junk["id"], junk["restId"]}

    def names_one(entry: dict[str, Any]) -> bool:
        return entry["message_id"] in forbidden or any(m in entry["path"] for m in forbidden)

    about_moved = [e for e in requests if names_one(e)]
    assert {e["message_id"] for e in about_moved} == set(moved), about_moved
    assert all(e["select"] == ["parentFolderId"] for e in about_moved), about_moved
    # The kept mail was read for its recipe's fields too, so the log does record wider selects.
    about_kept = [e for e in requests if e["message_id"] == kept["id"]]
    assert any(e["select"] and len(e["select"]) > 1 for e in about_kept), about_kept
    assert len(await items(stack, token, board_id)) == 1


async def test_graph_failing_a_third_of_calls_still_makes_every_item_once(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    await set_faults(stack, error_rate=0.3)
    names = [f"help despite errors {n}" for n in range(15)]
    ids = {(await deliver(stack, email, **{"from": CUSTOMER, "subject": name}))["id"] for name in names}

    made = await wait_items(stack, token, board_id, len(names))
    logged = await wait_outcomes(stack, token, connection_id, ids)
    failures = [e for e in await emulator_requests(stack, email) if e["status"] == 503]
    assert failures  # the fault did hit the service's calls
    assert sorted(i["name"] for i in made) == sorted(names)
    assert sorted(i["name"] for i in await items(stack, token, board_id)) == sorted(names)
    assert all(o["outcome"] == "processed" and o["items_created"] == 1 for o in logged), logged
