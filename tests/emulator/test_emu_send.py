"""Graph sending: sendMail and reply answer 202 with no body, save to Sent Items, deliver to mailboxes."""

from __future__ import annotations

import json
from typing import Any

from tests.emulator.helpers import (
    assert_graph_error,
    connect,
    control,
    deliver,
    mail_address,
    unique,
)

IMMUTABLE = 'IdType="ImmutableId"'


def _message(to: str, subject: str, **extra: Any) -> dict[str, Any]:
    msg = {
        "subject": subject,
        "body": {"contentType": "html", "content": "<p>Hi from a test</p>"},
        "toRecipients": [mail_address(to)],
    }
    msg.update(extra)
    return msg


async def _folder_subjects(conn, folder: str) -> list[str]:
    async with conn.graph() as g:
        resp = await g.get(f"/me/mailFolders/{folder}/messages", params={"$select": "subject"})
    assert resp.status_code == 200, resp.text
    return [m["subject"] for m in resp.json()["value"]]


async def test_send_mail_202_saved_to_sent_items_and_delivered(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    subject = unique("Hello ")
    async with alice.graph() as g:
        resp = await g.post(
            "/me/sendMail",
            json={
                "message": _message(
                    bob.email,
                    subject,
                    ccRecipients=[mail_address("outside@fabrikam.test")],
                    internetMessageHeaders=[{"name": "x-loop-marker", "value": "abc123"}],
                ),
                "saveToSentItems": True,
            },
        )
    assert resp.status_code == 202, resp.text
    assert resp.content == b""
    assert subject in await _folder_subjects(alice, "sentitems")
    assert subject in await _folder_subjects(bob, "inbox")
    async with bob.graph() as g:
        got = await g.get(
            "/me/mailFolders/inbox/messages",
            params={"$select": "subject,from,internetMessageHeaders,conversationId", "$top": "1"},
        )
    msg = got.json()["value"][0]
    assert msg["from"]["emailAddress"]["address"] == alice.email
    headers = {h["name"].lower(): h["value"] for h in msg["internetMessageHeaders"]}
    assert headers["x-loop-marker"] == "abc123", "custom x- headers travel with the message"
    async with control(emulator) as c:
        sent = await c.get(f"/users/{alice.email}/sent")
    assert sent.status_code == 200
    entries = sent.json()
    entries = entries.get("value", entries) if isinstance(entries, dict) else entries
    assert any(subject in json.dumps(e) for e in entries), entries


async def test_send_mail_without_save_to_sent_items(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    subject = unique("NoSave ")
    async with alice.graph() as g:
        resp = await g.post(
            "/me/sendMail", json={"message": _message(bob.email, subject), "saveToSentItems": False}
        )
    assert resp.status_code == 202
    assert subject not in await _folder_subjects(alice, "sentitems")
    assert subject in await _folder_subjects(bob, "inbox")


async def test_send_mail_rejects_custom_header_without_x_prefix(emulator):
    alice = await connect(emulator)
    async with alice.graph() as g:
        resp = await g.post(
            "/me/sendMail",
            json={
                "message": _message(
                    "someone@fabrikam.test",
                    "bad header",
                    internetMessageHeaders=[{"name": "Loop-Marker", "value": "1"}],
                )
            },
        )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"]


async def test_send_mail_bad_body_is_400(emulator):
    alice = await connect(emulator)
    async with alice.graph() as g:
        resp = await g.post("/me/sendMail", json={"nomessage": True})
        assert resp.status_code == 400
        assert resp.json()["error"]["innerError"]["request-id"]
        resp = await g.post(
            "/me/sendMail", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 400


async def test_reply_202_threads_and_delivers_to_the_original_sender(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    original = unique("Question ")
    async with alice.graph() as g:
        r = await g.post("/me/sendMail", json={"message": _message(bob.email, original)})
        assert r.status_code == 202
    async with bob.graph(prefer=IMMUTABLE) as g:
        inbox = (
            await g.get(
                "/me/mailFolders/inbox/messages",
                params={"$select": "id,subject,conversationId,internetMessageId"},
            )
        ).json()["value"]
        received = next(m for m in inbox if m["subject"] == original)
        resp = await g.post(f"/me/messages/{received['id']}/reply", json={"comment": "Answer inline"})
        assert resp.status_code == 202, resp.text
        assert resp.content == b""
        sent = (
            await g.get("/me/mailFolders/sentitems/messages", params={"$select": "subject,conversationId"})
        ).json()["value"]
    reply_subject = f"RE: {original}"
    assert any(m["subject"] == reply_subject for m in sent), sent
    async with alice.graph() as g:
        back = (
            await g.get(
                "/me/mailFolders/inbox/messages",
                params={"$select": "subject,conversationId,body,internetMessageHeaders"},
            )
        ).json()["value"]
    reply = next(m for m in back if m["subject"] == reply_subject)
    assert reply["conversationId"] == received["conversationId"]
    assert "Answer inline" in reply["body"]["content"]
    # Threading headers let a service recognise replies to its own mail (mail-loop protection).
    headers = {h["name"].lower(): h["value"] for h in reply["internetMessageHeaders"]}
    assert headers["in-reply-to"] == received["internetMessageId"]


async def test_reply_with_message_body(emulator):
    bob = await connect(emulator)
    msg = await deliver(emulator, bob.email, subject="ping")
    async with bob.graph() as g:
        resp = await g.post(
            f"/me/messages/{msg['id']}/reply",
            json={"message": {"body": {"contentType": "text", "content": "pong"}}},
        )
    assert resp.status_code == 202, resp.text
    assert "RE: ping" in await _folder_subjects(bob, "sentitems")


async def test_reply_with_both_comment_and_message_body_is_400(emulator):
    bob = await connect(emulator)
    msg = await deliver(emulator, bob.email, subject="both")
    async with bob.graph() as g:
        resp = await g.post(
            f"/me/messages/{msg['id']}/reply",
            json={"comment": "one", "message": {"body": {"contentType": "text", "content": "two"}}},
        )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"]
    assert "RE: both" not in await _folder_subjects(bob, "sentitems")


async def test_reply_needs_mail_send(emulator):
    bob = await connect(emulator, scopes=["Mail.Read"])
    msg = await deliver(emulator, bob.email)
    async with bob.graph() as g:
        resp = await g.post(f"/me/messages/{msg['id']}/reply", json={"comment": "x"})
    assert_graph_error(resp, 403, "accessDenied")


async def test_reply_to_unknown_message_is_404(emulator):
    bob = await connect(emulator)
    async with bob.graph() as g:
        resp = await g.post("/me/messages/AAMkAGnosuchmessage/reply", json={"comment": "x"})
    assert_graph_error(resp, 404, "ErrorItemNotFound")


async def test_mail_loop_between_two_mailboxes_is_observable(emulator):
    """Each hop lands in the other inbox, so a service replying to its own replies would be visible."""
    alice = await connect(emulator)
    bob = await connect(emulator)
    subject = unique("Loop ")
    async with alice.graph() as g:
        await g.post("/me/sendMail", json={"message": _message(bob.email, subject)})
    for _hop in range(2):
        for sender in (bob, alice):
            async with sender.graph(prefer=IMMUTABLE) as g:
                latest = (
                    await g.get(
                        "/me/mailFolders/inbox/messages",
                        params={"$top": "1", "$orderby": "receivedDateTime desc", "$select": "id"},
                    )
                ).json()["value"][0]
                resp = await g.post(f"/me/messages/{latest['id']}/reply", json={"comment": "x"})
                assert resp.status_code == 202
    assert len(await _folder_subjects(alice, "inbox")) == 2
    assert len(await _folder_subjects(bob, "inbox")) == 3
