"""Issue 5's "Done when", as a test: 200 emails into a connected mailbox with the issue's recipe, mixed
with junk, mail the mailbox sends itself, automatic replies, and every notification delivered three
times, yield exactly the expected items, and nothing outside the inbox is ever read."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import emulator_requests, set_faults
from tests.e2e.test_messages import connected_with_recipe, items
from tests.e2e.test_messages_reliability import wait_items, wait_outcomes
from tests.emulator_unit.helpers import msal_app, register_app, sign_in

CUSTOMERS = [f"user{n}@customer.example" for n in range(7)]


pytestmark = pytest.mark.usefixtures("faults_cleared")


def the_mix(mailbox: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, message) for 200 emails in a fixed shuffled order."""
    mix: list[tuple[str, dict[str, Any]]] = []
    for n in range(100):
        mix.append(("match", {"from": CUSTOMERS[n % 7], "subject": f"Can you help? ticket {n}"}))
    for n in range(20):
        mix.append(("other", {"from": f"someone{n}@elsewhere.example", "subject": f"help wanted {n}"}))
    for n in range(20):
        mix.append(("other", {"from": CUSTOMERS[n % 7], "subject": f"Invoice {n}"}))
    for n in range(30):
        mix.append(("junk", {"from": CUSTOMERS[n % 7], "subject": f"help junk {n}", "folder": "junkemail"}))
    for n in range(10):
        auto = {"Auto-Submitted": "auto-replied"}
        mix.append(
            ("auto", {"from": CUSTOMERS[n % 7], "subject": f"Automatic reply: help {n}", "headers": auto})
        )
    for n in range(15):
        mix.append(("sent", {"to": CUSTOMERS[n % 7], "subject": f"Re: help {n}"}))
    for n in range(5):
        mix.append(("sent-to-self", {"to": mailbox, "subject": f"note to self: help {n}"}))
    random.Random(5).shuffle(mix)
    assert len(mix) == 200
    return mix


async def test_two_hundred_mixed_emails_yield_exactly_the_expected_items(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    # The mailbox's own mail client (another app), which sends mail the way Outlook does.
    client_id, secret = register_app(stack.emulator)
    signed_in = await asyncio.to_thread(
        sign_in, stack.emulator, msal_app(stack.emulator, client_id, secret), email, ["Mail.Send"]
    )
    outlook = {"Authorization": f"Bearer {signed_in['access_token']}"}
    await set_faults(stack, duplicate_notifications=2)

    delivered: dict[str, list[dict[str, Any]]] = {}
    async with stack.emulator_control() as control:
        for kind, message in the_mix(email):
            if kind.startswith("sent"):
                body = {
                    "message": {
                        "subject": message["subject"],
                        "body": {"contentType": "text", "content": "On it."},
                        "toRecipients": [{"emailAddress": {"address": message["to"]}}],
                    },
                    "saveToSentItems": True,
                }
                r = await control.post("/v1.0/me/sendMail", json=body, headers=outlook)
                assert r.status_code == 202, r.text
                continue
            r = await control.post(f"/_emulator/users/{email}/messages", json={**message, "body": "text"})
            assert r.status_code == 201, r.text
            delivered.setdefault(kind, []).append(r.json())
        sent = (await control.get(f"/_emulator/users/{email}/sent")).json()
        everything = (await control.get(f"/_emulator/users/{email}/messages")).json()
    assert len(sent) == 20

    expected = sorted(m["subject"] for m in delivered["match"])
    inbox_ids = {m["id"] for kind in ("match", "other", "auto") for m in delivered[kind]}
    self_copies = {
        m["id"] for m in everything if m["subject"].startswith("note to self") and m["folder"] == "inbox"
    }
    assert len(self_copies) == 5
    made = await wait_items(stack, token, board_id, len(expected))
    logged = await wait_outcomes(stack, token, connection_id, inbox_ids | self_copies)

    final = await items(stack, token, board_id)
    assert sorted(i["name"] for i in made) == expected
    assert sorted(i["name"] for i in final) == expected
    assert Counter(o["outcome"] for o in logged) == Counter({"processed": 100, "skipped": 55}), logged
    assert all(o["items_created"] == 1 for o in logged if o["outcome"] == "processed")

    # Junk and Sent Items: the service was never told of them and never read them.
    never_read = {m["id"] for m in delivered["junk"]} | {s["sent_item_id"] for s in sent}
    never_read |= {m["restId"] for m in everything if m["id"] in never_read}
    requests = await emulator_requests(stack, email)
    assert not [
        e for e in requests if e["message_id"] in never_read or any(i in e["path"] for i in never_read)
    ]
    assert not {o["message_id"] for o in logged} & never_read
