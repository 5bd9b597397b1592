"""Issue 11's "Done when" with a monday.com destination, on the whole stack and the monday.com fake: the
account links monday.com through /api/monday; an incoming recipe makes an item on the fake's Billing
board and a reply an update on it; an outgoing recipe watches that board's Status through a monday
webhook (registered when the recipe is saved, its challenge answered), and a person setting Status to
Done in monday.com sends exactly one email, once more after another value; the sent mail never comes
back as an item; a dry run changes nothing; deleting the recipe deletes the webhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, eventually
from tests.e2e.test_messages import deliver, outcomes
from tests.e2e.test_recipes_done_when import connected_both_ways, emulated_customer, mailbox_messages
from tests.support.monday_fake_server import RunningMondayFake, start_monday_fake

pytestmark = pytest.mark.usefixtures("faults_cleared")

MONDAY_TOKEN = "e2e-monday-token-0123456789abcdef"
LABELS = ["Working on it", "Done", "Stuck"]


@pytest.fixture(scope="module")
async def fake(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningMondayFake]:
    running = await asyncio.to_thread(
        start_monday_fake, tmp_path_factory.mktemp("monday-fake-e2e"), [MONDAY_TOKEN]
    )
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)


async def board_items(fake: RunningMondayFake, board_id: str) -> list[dict[str, Any]]:
    board = await asyncio.to_thread(fake.board, board_id)
    found: list[dict[str, Any]] = board["items"]
    return found


async def set_status(fake: RunningMondayFake, item_id: str, label: str) -> None:
    """As a person in monday.com: the fake sends the board's webhooks the change."""
    body = {"columns": {"Status": label}}
    await asyncio.to_thread(fake.control, "POST", f"/items/{item_id}/columns", json=body)


async def webhooks(fake: RunningMondayFake) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await asyncio.to_thread(fake.control, "GET", "/webhooks")).json()
    return found


async def test_billing_scenario_on_monday(stack: Stack, fake: RunningMondayFake) -> None:
    mailbox, token, connection_id = await connected_both_ways(stack)
    customer = await emulated_customer(stack)
    linked = await api_call(
        stack, token, "PUT", "/api/monday", json={"api_token": MONDAY_TOKEN, "api_url": fake.api_url}
    )
    assert linked.status_code == 200, linked.text
    board = await asyncio.to_thread(
        fake.add_board,
        "Billing",
        ["New", "Paid"],
        [
            {"title": "Email", "type": "email"},
            {"title": "Status", "type": "status", "labels": LABELS},
            # Required on every monday.com board a recipe writes to: the idempotency key.
            {"title": "Message key", "type": "text"},
        ],
    )
    board_id = board["id"]
    incoming = {
        "connection_id": connection_id,
        "name": "Invoices",
        "trigger": {
            "type": "email_received",
            "folder": "inbox",
            "conditions": {"from": ["*@customer.example", mailbox], "subject_contains": ["invoice"]},
        },
        "action": {
            "type": "create_item",
            "destination": "monday",
            "board_id": board_id,
            "group": "New",
            "item_name": "{subject}",
            "columns": {"Email": "{from.address}"},
            "replies": "update",
            "reply_update": "{from.name}: {body}",
        },
    }
    r = await api_call(stack, token, "POST", "/api/recipes", json=incoming)
    assert r.status_code == 201, r.text
    incoming_id = r.json()["id"]

    # An outgoing recipe on a column the board does not have is refused before anything is registered.
    wrong = {
        "connection_id": connection_id,
        "name": "Wrong column",
        "trigger": {"type": "column_changed", "source": "monday", "board_id": board_id, "column": "Stage"},
        "action": {"type": "send_email", "to": "{column:Email}", "subject": "x"},
    }
    r = await api_call(stack, token, "POST", "/api/recipes", json=wrong)
    assert r.status_code == 422, r.text
    assert "no column 'Stage'" in r.text
    assert await webhooks(fake) == []

    outgoing = {
        "connection_id": connection_id,
        "name": "Tell the customer",
        "trigger": {
            "type": "column_changed",
            "source": "monday",
            "board_id": board_id,
            "column": "Status",
            "to": "Done",
        },
        "action": {
            "type": "send_email",
            "to": f"{{column:Email}}, {mailbox}",
            "subject": "Invoice done: {name}",
            "body": "Your request '{name}' is {column:Status}.",
        },
    }
    r = await api_call(stack, token, "POST", "/api/recipes", json=outgoing)
    assert r.status_code == 201, r.text
    outgoing_id = r.json()["id"]
    status_column = next(c["id"] for c in board["columns"] if c["title"] == "Status")
    registered = await webhooks(fake)
    assert [(w["board_id"], w["event"], w["config"]) for w in registered] == [
        (board_id, "change_specific_column_value", {"columnId": status_column})
    ]

    # A matching email: its item on monday.com, with the sender in Email.
    first = await deliver(
        stack,
        mailbox,
        **{"from": {"name": "Grace Hopper", "address": customer}},
        subject="Invoice 8812 question",
        body="Could you check invoice 8812?",
    )
    made = await eventually(lambda: board_items(fake, board_id), what="the monday.com item")
    assert [(i["name"], i["columns"]["Email"]) for i in made] == [("Invoice 8812 question", customer)]
    item_id = made[0]["id"]

    # Its reply: an update on that item, no second item.
    await deliver(
        stack,
        mailbox,
        **{"from": {"name": "Grace Hopper", "address": customer}},
        subject="RE: Invoice 8812 question",
        body="Here is the PDF.",
        in_reply_to=first["internetMessageId"],
    )

    async def updated() -> list[dict[str, Any]] | None:
        now = await board_items(fake, board_id)
        return now if now and now[0]["updates"] else None

    now = await eventually(updated, what="the reply's update")
    assert len(now) == 1
    assert [u["body"] for u in now[0]["updates"]] == ["Grace Hopper: Here is the PDF."]

    # A person sets Status to Done in monday.com: exactly one email to the customer.
    await set_status(fake, item_id, "Done")

    async def sent_to_customer(count: int) -> list[dict[str, Any]] | None:
        got = [m for m in await mailbox_messages(stack, customer) if m["subject"].startswith("Invoice done")]
        return got if len(got) >= count else None

    got = await eventually(lambda: sent_to_customer(1), what="the status email")
    assert got[0]["subject"] == "Invoice done: Invoice 8812 question"
    # Done again after another value: one more; the same value again is no change at monday.com.
    await set_status(fake, item_id, "Working on it")
    await set_status(fake, item_id, "Working on it")
    await set_status(fake, item_id, "Done")
    await eventually(lambda: sent_to_customer(2), what="the second status email")

    async def own_mail_skipped() -> list[dict[str, Any]] | None:
        logged = [
            o for o in await outcomes(stack, token, connection_id) if o["reason"] == "sent by this service"
        ]
        return logged if len(logged) >= 2 else None

    await eventually(own_mail_skipped, what="the service's own mail skipped")
    await asyncio.sleep(2)
    assert len(await sent_to_customer(2) or []) == 2
    assert len(await board_items(fake, board_id)) == 1
    sends = [o for o in await outcomes(stack, token, connection_id) if o["direction"] == "outgoing"]
    assert sorted(o["outcome"] for o in sends) == ["processed", "processed"]
    # Every event monday.com delivered was acknowledged at once (200): Done, Working on it, Done.
    delivered = (await asyncio.to_thread(fake.control, "GET", "/deliveries")).json()
    assert [d["status"] for d in delivered] == [200, 200, 200]

    # A dry run shows what would happen and changes nothing.
    before = (await board_items(fake, board_id), await outcomes(stack, token, connection_id))
    r = await api_call(stack, token, "POST", f"/api/recipes/{incoming_id}/dry-run", json={"limit": 20})
    assert r.status_code == 200, r.text
    dry = r.json()
    matched = [d for d in dry["data"] if d["matched"]]
    assert {d["subject"] for d in matched} >= {"Invoice 8812 question", "RE: Invoice 8812 question"}
    assert (await board_items(fake, board_id), await outcomes(stack, token, connection_id)) == before
    assert len(await sent_to_customer(2) or []) == 2

    # Deleting the recipe deletes its webhook at monday.com.
    r = await api_call(stack, token, "DELETE", f"/api/recipes/{outgoing_id}")
    assert r.status_code == 204, r.text
    assert await webhooks(fake) == []


async def test_webhook_refuses_unknown_secrets(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        for path in ("/webhooks/monday/" + "a" * 43, "/webhooks/monday/short", "/webhooks/monday/%2e%2e"):
            r = await http.post(path, json={"challenge": "abc"})
            assert r.status_code == 404, (path, r.text)
        r = await http.post("/webhooks/monday/" + "b" * 43, content=b"not json")
        assert r.status_code == 404, r.text
        assert "abc" not in r.text
