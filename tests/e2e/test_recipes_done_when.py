"""Issue 11's "Done when", as a test, on the whole stack (API, worker, Temporal, OpenBao, the emulator):
a Billing board, an incoming recipe with replies as updates, an outgoing recipe on Status -> Done; a
matching email makes the item, its reply an update on it, Done sends exactly one email that never comes
back as an item, Done again (after another value) one more, and a dry run changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, connect, emulator_list, eventually, new_mailbox, wait_status
from tests.e2e.test_messages import deliver, items, outcomes
from tests.support.leak_scan import email_content, scan_email_content
from workflows.ids import message_workflow_id, send_workflow_id

pytestmark = pytest.mark.usefixtures("faults_cleared")

BILLING = {
    "name": "Billing",
    "groups": ["New", "Paid"],
    "columns": [
        {"title": "Email", "type": "email"},
        {"title": "Status", "type": "status", "labels": ["Working on it", "Done", "Stuck"]},
    ],
}


async def connected_both_ways(stack: Stack) -> tuple[str, str, str]:
    """A new mailbox connected with incoming and outgoing mail: (mailbox, API token, connection id)."""
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, email, scopes="incoming,outgoing")
    await wait_status(stack, token, connection_id, "active")
    return email, token, connection_id


async def emulated_customer(stack: Stack) -> str:
    """A customer whose mailbox is emulated too, so the email the service sends can be counted there."""
    address = f"grace-{uuid.uuid4().hex[:8]}@customer.example"
    async with stack.emulator_control() as control:
        r = await control.post("/_emulator/users", json={"email": address, "display_name": "Grace Hopper"})
        assert r.status_code in (200, 201), r.text
    return address


async def mailbox_messages(stack: Stack, address: str) -> list[dict[str, Any]]:
    return await emulator_list(stack, f"/_emulator/users/{address}/messages")


async def set_status(stack: Stack, token: str, item_id: str, status: str) -> None:
    r = await api_call(stack, token, "PATCH", f"/api/items/{item_id}", json={"columns": {"Status": status}})
    assert r.status_code == 200, r.text
    assert r.json()["columns"]["Status"] == status


async def test_billing_scenario(stack: Stack) -> None:
    mailbox, token, connection_id = await connected_both_ways(stack)
    customer = await emulated_customer(stack)
    board = await api_call(stack, token, "POST", "/api/boards", json=BILLING)
    assert board.status_code == 201, board.text
    board_id = board.json()["id"]
    incoming = {
        "connection_id": connection_id,
        "name": "Invoices",
        "trigger": {
            "type": "email_received",
            "folder": "inbox",
            # The mailbox's own address too: the email the service sends itself must still never match.
            "conditions": {"from": ["*@customer.example", mailbox], "subject_contains": ["invoice"]},
        },
        "action": {
            "type": "create_item",
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
    outgoing = {
        "connection_id": connection_id,
        "name": "Tell the customer",
        "trigger": {"type": "column_changed", "board_id": board_id, "column": "Status", "to": "Done"},
        "action": {
            "type": "send_email",
            # Also to the mailbox itself: its copy arrives in the watched inbox and must be skipped.
            "to": f"{{column:Email}}, {mailbox}",
            "subject": "Invoice done: {name}",
            "body": "Your request '{name}' is {column:Status}.",
        },
    }
    r = await api_call(stack, token, "POST", "/api/recipes", json=outgoing)
    assert r.status_code == 201, r.text

    # A matching email: its item, with the sender in Email.
    first = await deliver(
        stack,
        mailbox,
        **{"from": {"name": "Grace Hopper", "address": customer}},
        subject="Invoice 8812 question",
        body="Could you check invoice 8812?",
    )
    made = await eventually(lambda: items(stack, token, board_id), what="the item")
    assert [(i["name"], i["columns"]["Email"]) for i in made] == [("Invoice 8812 question", customer)]
    item_id = made[0]["id"]

    # Its reply, in the same conversation: an update on that item, no second item.
    reply = await deliver(
        stack,
        mailbox,
        **{"from": {"name": "Grace Hopper", "address": customer}},
        subject="RE: Invoice 8812 question",
        body="Here is the PDF.",
        in_reply_to=first["internetMessageId"],
    )

    async def updated() -> list[dict[str, Any]] | None:
        now = await items(stack, token, board_id)
        return now if now and now[0]["updates"] else None

    now = await eventually(updated, what="the reply's update")
    assert len(now) == 1
    assert [u["body"] for u in now[0]["updates"]] == ["Grace Hopper: Here is the PDF."]

    # Status -> Done: exactly one email in the customer's mailbox, and it comes back as nothing.
    await set_status(stack, token, item_id, "Done")

    async def sent_to_customer(count: int) -> list[dict[str, Any]] | None:
        got = [m for m in await mailbox_messages(stack, customer) if m["subject"].startswith("Invoice done")]
        return got if len(got) >= count else None

    got = await eventually(lambda: sent_to_customer(1), what="the status email")
    assert got[0]["subject"] == "Invoice done: Invoice 8812 question"
    # Done again after another value: one more email; the same value twice is no change, no email.
    await set_status(stack, token, item_id, "Working on it")
    await set_status(stack, token, item_id, "Working on it")
    await set_status(stack, token, item_id, "Done")
    await eventually(lambda: sent_to_customer(2), what="the second status email")

    # The copies sent to the mailbox itself were skipped as the service's own mail, and no item came of
    # any sent email (give the worker time to have done it, if it were going to).
    async def own_mail_skipped() -> list[dict[str, Any]] | None:
        logged = [
            o for o in await outcomes(stack, token, connection_id) if o["reason"] == "sent by this service"
        ]
        return logged if len(logged) >= 2 else None

    await eventually(own_mail_skipped, what="the service's own mail skipped")
    await asyncio.sleep(2)
    assert len(await sent_to_customer(2) or []) == 2
    assert len(await items(stack, token, board_id)) == 1
    sends = [o for o in await outcomes(stack, token, connection_id) if o["direction"] == "outgoing"]
    assert sorted(o["outcome"] for o in sends) == ["processed", "processed"]

    # The histories of the reply's message workflow and of both sends hold the mail only encrypted.
    content = email_content(
        "Invoice 8812 question",
        "Could you check invoice 8812?",
        reply="Grace Hopper: Here is the PDF.",
        sent_body="Your request 'Invoice 8812 question' is Done.",
        recipient=customer,
    )
    workflow_ids = [message_workflow_id(connection_id, reply["id"])]
    workflow_ids += [send_workflow_id(connection_id, *o["message_id"].split("/")[1:]) for o in sends]
    for workflow_id in workflow_ids:
        history = await stack.env.client.get_workflow_handle(workflow_id).fetch_history()
        scan = await scan_email_content(history, workflow_id, content)
        assert not scan.stored, "\n".join(map(str, scan.stored))
        assert scan.decoded, f"{workflow_id}: the scan did not see the content through the codec"

    # A dry run shows what would happen and changes nothing.
    before = (await items(stack, token, board_id), await outcomes(stack, token, connection_id))
    r = await api_call(stack, token, "POST", f"/api/recipes/{incoming_id}/dry-run", json={"limit": 20})
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["count"] == len(dry["data"]) >= 2
    matched = [d for d in dry["data"] if d["matched"]]
    assert {d["subject"] for d in matched} >= {"Invoice 8812 question", "RE: Invoice 8812 question"}
    assert (await items(stack, token, board_id), await outcomes(stack, token, connection_id)) == before
    assert len(await sent_to_customer(2) or []) == 2
