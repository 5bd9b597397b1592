"""Edm.Binary properties (issue 10): Graph serves them as base64, and typed clients decode them strictly.

The message's `conversationIndex` is Outlook's conversation index: a 22-byte header (0x01, five bytes of
the conversation's start FILETIME, the conversation's 16-byte GUID) plus five bytes per reply level, so a
reply's index extends its parent's. An attachment's `contentBytes` is the file's bytes. `changeKey` is a
String in Graph (outlookItem), so it is not checked here. Covered: every message shape the emulator makes
(delivered with and without a conversation, replies and replies to replies, sendMail and reply through
Graph, moved), in every folder the control API delivers to, read by list, get and delta, with and without
$select, and through the control API.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from typing import Any

import httpx

from tests.emulator.helpers import Connection, connect, control, deliver, mail_address, move, unique
from tests.emulator.test_emu_graph_mail import WELL_KNOWN
from tests.support.emulator_server import start_emulator

IMMUTABLE = 'IdType="ImmutableId"'
HEADER = 22  # reserved byte, 5 bytes of FILETIME, 16-byte GUID
LEVEL = 5  # one response level per reply
MESSAGE_BINARY = ("conversationIndex",)  # the message properties Graph types Edm.Binary
# Every well-known folder the control API delivers to, and a custom one.
FOLDERS = [*WELL_KNOWN, "Binary Checks"]
SELECT = "conversationIndex,conversationId,internetMessageId,internetMessageHeaders,subject"


def strict(value: Any) -> bytes:
    assert isinstance(value, str), value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AssertionError(f"not strict base64: {value!r} ({exc})") from None


def index_of(msg: dict[str, Any]) -> bytes:
    raw = strict(msg["conversationIndex"])
    assert len(raw) >= HEADER and (len(raw) - HEADER) % LEVEL == 0, (len(raw), msg)
    assert raw[0] == 0x01, msg
    return raw


def guid(raw: bytes) -> bytes:
    return raw[6:HEADER]


def in_reply_to(msg: dict[str, Any]) -> str | None:
    headers = msg.get("internetMessageHeaders") or []
    return next((h["value"] for h in headers if h["name"].lower() == "in-reply-to"), None)


async def _delta(g: httpx.AsyncClient, folder: str, select: str | None) -> list[dict[str, Any]]:
    url = f"/me/mailFolders/{folder}/messages/delta" + (f"?$select={select}" if select else "")
    items: list[dict[str, Any]] = []
    for _ in range(100):
        resp = await g.get(url, headers={"Prefer": f"odata.maxpagesize=50, {IMMUTABLE}"})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += [m for m in page["value"] if "@removed" not in m]
        if "@odata.deltaLink" in page:
            return items
        url = page["@odata.nextLink"]
    raise AssertionError("delta never ended")


async def served(conn: Connection) -> list[dict[str, Any]]:
    """Every message of the mailbox as each read path serves it: the control API, then Graph (immutable
    ids) by list, per-folder list and delta with and without $select, and get."""
    async with control(conn.emu) as c:
        folders = await c.get(f"/users/{conn.email}/folders")
        messages = await c.get(f"/users/{conn.email}/messages")
    assert folders.status_code == 200 and messages.status_code == 200, (folders.text, messages.text)
    views: list[dict[str, Any]] = list(messages.json())
    async with conn.graph(prefer=IMMUTABLE) as g:
        for params in ({"$top": "1000"}, {"$top": "1000", "$select": SELECT}):
            resp = await g.get("/me/messages", params=params)
            assert resp.status_code == 200, resp.text
            views += resp.json()["value"]
        for folder in [f["id"] for f in folders.json()]:  # every folder, the custom ones too
            for params in ({"$top": "1000"}, {"$top": "1000", "$select": SELECT}):
                resp = await g.get(f"/me/mailFolders/{folder}/messages", params=params)
                assert resp.status_code == 200, (folder, resp.text)
                views += resp.json()["value"]
            views += await _delta(g, folder, None) + await _delta(g, folder, SELECT)
        for mid in {m["id"] for m in views}:
            for params in ({}, {"$select": SELECT}):
                resp = await g.get(f"/me/messages/{mid}", params=params)
                assert resp.status_code == 200, resp.text
                views.append(resp.json())
            one = await g.get(f"/me/messages/{mid}", params={"$select": "parentFolderId"})
            resp = await g.get(f"/me/mailFolders/{one.json()['parentFolderId']}/messages/{mid}")
            assert resp.status_code == 200, resp.text
            views.append(resp.json())
    return views


def check_mailbox(views: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Strict base64 and structure for every view; one index per message; replies extend their parent.
    Returns the messages by internetMessageId, each with its decoded `raw` index."""
    by_imid: dict[str, dict[str, Any]] = {}
    for view in views:
        for name in MESSAGE_BINARY:
            assert name in view, view  # in the default field set and in every $select above
        raw = index_of(view)
        known = by_imid.setdefault(view["internetMessageId"], {"raw": raw})
        assert known["raw"] == raw, "every read path serves the same index for a message"
        known.update({k: v for k, v in view.items() if k in ("conversationId", "internetMessageHeaders")})
    by_conversation: dict[str, set[bytes]] = defaultdict(set)
    for msg in by_imid.values():
        by_conversation[msg["conversationId"]].add(guid(msg["raw"]))
        parent = by_imid.get(in_reply_to(msg) or "")
        if parent is not None and parent["conversationId"] == msg["conversationId"]:
            assert msg["raw"][: len(parent["raw"])] == parent["raw"], "a reply extends its parent's index"
            assert len(msg["raw"]) == len(parent["raw"]) + LEVEL
    for conversation, guids in by_conversation.items():
        assert len(guids) == 1, f"conversation {conversation} has one GUID"
    all_guids = [next(iter(g)) for g in by_conversation.values()]
    assert len(set(all_guids)) == len(all_guids), "conversations have distinct GUIDs"
    return by_imid


async def _send(conn: Connection, to: str, subject: str) -> None:
    message = {
        "subject": subject,
        "body": {"contentType": "text", "content": "hi"},
        "toRecipients": [mail_address(to)],
    }
    async with conn.graph() as g:
        resp = await g.post("/me/sendMail", json={"message": message, "saveToSentItems": True})
    assert resp.status_code == 202, resp.text


async def _reply(conn: Connection, subject: str) -> None:
    async with conn.graph(prefer=IMMUTABLE) as g:
        found = await g.get("/me/mailFolders/inbox/messages", params={"$top": "1000", "$select": "subject"})
        mid = next(m["id"] for m in found.json()["value"] if m["subject"] == subject)
        resp = await g.post(f"/me/messages/{mid}/reply", json={"comment": "answer"})
    assert resp.status_code == 202, resp.text


async def test_conversation_index_in_every_folder_and_read_path(emulator):
    conn = await connect(emulator)
    delivered: dict[str, dict[str, Any]] = {}
    for folder in FOLDERS:
        # Without a conversation (the emulator starts one), with a given one, a reply, a reply to it,
        # and a second message of the given conversation that names no parent.
        alone = await deliver(emulator, conn.email, folder=folder)
        conversation = unique("conv-")
        first = await deliver(emulator, conn.email, folder=folder, conversation_id=conversation)
        reply = await deliver(emulator, conn.email, folder=folder, in_reply_to=first["internetMessageId"])
        deeper = await deliver(emulator, conn.email, folder=folder, in_reply_to=reply["internetMessageId"])
        sibling = await deliver(emulator, conn.email, folder=folder, conversation_id=conversation)
        for name, msg in (("alone", alone), ("first", first), ("reply", reply), ("deeper", deeper)):
            delivered[f"{folder}/{name}"] = msg
        delivered[f"{folder}/sibling"] = sibling
    moved = await deliver(emulator, conn.email, conversation_id=unique("conv-"))
    assert (await move(emulator, conn.email, moved["id"], "archive")).status_code == 200

    by_imid = check_mailbox(await served(conn))

    def raw(key: str) -> bytes:
        return bytes(by_imid[delivered[key]["internetMessageId"]]["raw"])

    for folder in FOLDERS:
        assert len(raw(f"{folder}/alone")) == HEADER, "a conversation's first message: the header only"
        assert len(raw(f"{folder}/first")) == HEADER
        assert raw(f"{folder}/reply")[:HEADER] == raw(f"{folder}/first")
        assert raw(f"{folder}/deeper")[: HEADER + LEVEL] == raw(f"{folder}/reply")
        assert len(raw(f"{folder}/deeper")) == HEADER + 2 * LEVEL
        # A later message of the conversation shares its header and is a response, never a new root.
        assert raw(f"{folder}/sibling")[:HEADER] == raw(f"{folder}/first")
        assert len(raw(f"{folder}/sibling")) > HEADER
        # The control API's own answer is the same index Graph serves.
        assert strict(delivered[f"{folder}/deeper"]["conversationIndex"]) == raw(f"{folder}/deeper")
    assert len(by_imid[moved["internetMessageId"]]["raw"]) == HEADER


async def test_conversation_index_through_send_mail_and_replies(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    subject = unique("Thread ")
    await _send(alice, bob.email, subject)  # Alice: sentitems; Bob: inbox
    await _reply(bob, subject)  # Bob: sentitems; Alice: inbox
    await _reply(alice, f"RE: {subject}")  # a reply to the reply (subject stays "RE: ...")
    alice_msgs = check_mailbox(await served(alice))
    bob_msgs = check_mailbox(await served(bob))

    for mailbox in (alice_msgs, bob_msgs):
        thread = sorted((m for m in mailbox.values()), key=lambda m: len(m["raw"]))
        assert [len(m["raw"]) for m in thread] == [HEADER, HEADER + LEVEL, HEADER + 2 * LEVEL]
        assert thread[1]["raw"].startswith(thread[0]["raw"])
        assert thread[2]["raw"].startswith(thread[1]["raw"])
    # Both copies of each message carry one index, as Exchange's Thread-Index travels with the mail.
    for imid, msg in alice_msgs.items():
        assert bob_msgs[imid]["raw"] == msg["raw"]
        assert bob_msgs[imid]["conversationId"] == msg["conversationId"]


async def test_send_mail_without_saved_copy_keeps_the_index_the_recipient_sees(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    subject = unique("Unsaved ")
    async with alice.graph() as g:
        message = {"subject": subject, "toRecipients": [mail_address(bob.email)]}
        resp = await g.post("/me/sendMail", json={"message": message, "saveToSentItems": False})
    assert resp.status_code == 202, resp.text
    await _reply(bob, subject)
    alice_msgs = check_mailbox(await served(alice))
    bob_msgs = check_mailbox(await served(bob))
    # Alice kept no copy of the original, yet the reply she receives extends the original's index.
    [reply] = alice_msgs.values()
    original = next(m for m in bob_msgs.values() if len(m["raw"]) == HEADER)
    assert reply["raw"][:HEADER] == original["raw"]
    assert len(reply["raw"]) == HEADER + LEVEL


async def test_attachment_content_bytes_is_strict_base64(emulator):
    conn = await connect(emulator)
    msg = await deliver(
        emulator,
        conn.email,
        attachments=[
            {"name": "a.txt", "content": "plain text, encoded for me"},
            {"name": "b.bin", "content_base64": base64.b64encode(bytes(range(256))).decode()},
            {"name": "empty.txt"},
        ],
    )
    async with conn.graph(prefer=IMMUTABLE) as g:
        resp = await g.get(f"/me/messages/{msg['id']}/attachments")
    assert resp.status_code == 200, resp.text
    got = {a["name"]: strict(a["contentBytes"]) for a in resp.json()["value"]}
    assert got == {"a.txt": b"plain text, encoded for me", "b.bin": bytes(range(256)), "empty.txt": b""}
    for a in resp.json()["value"]:
        assert a["size"] == len(got[a["name"]])


async def test_snapshot_from_before_the_fix_gets_valid_indexes(tmp_path):
    """A snapshot written before messages kept an index (no `conversation_index`) still serves valid ones."""
    data_dir, snapshot = tmp_path / "emu", tmp_path / "state.json"
    settings = {"snapshot": str(snapshot), "snapshot_debounce_seconds": 0.1}
    with start_emulator(data_dir, **settings) as first:
        conn = await connect(first)
        root = await deliver(first, conn.email, conversation_id="conv-old")
        await deliver(first, conn.email, in_reply_to=root["internetMessageId"])
    state = json.loads(snapshot.read_text())
    for user in state["users"].values():
        for message in user["messages"].values():
            message.pop("conversation_index", None)
    snapshot.write_text(json.dumps(state))
    with start_emulator(data_dir, **settings) as second:
        async with control(second) as c:
            resp = await c.get(f"/users/{conn.email}/messages")
        assert resp.status_code == 200, resp.text
        msgs = check_mailbox(resp.json())
    root_raw = msgs[root["internetMessageId"]]["raw"]
    assert len(root_raw) == HEADER
    assert sorted(len(m["raw"]) for m in msgs.values()) == [HEADER, HEADER + LEVEL]
    assert all(m["raw"].startswith(root_raw) for m in msgs.values())
