"""The control API under /_emulator/: users, messages, move, sent, faults, request log, issued tokens."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time

import httpx

from tests.emulator.helpers import connect, control, create_user, deliver, move, refresh, unique
from tests.support.emulator_server import REPO_ROOT, free_port

IMMUTABLE = 'IdType="ImmutableId"'


async def test_users_are_created_once_and_bad_input_is_4xx(emulator):
    email = f"{unique('ctl')}@contoso.test"
    async with control(emulator) as c:
        created = await c.post("/users", json={"email": email, "display_name": "Control User"})
        assert created.status_code == 201, created.text
        assert created.json()["email"] == email
        again = await c.post("/users", json={"email": email, "display_name": "Control User"})
        assert again.status_code in (200, 409)
        bad = await c.post("/users", json={"display_name": "no email"})
        assert 400 <= bad.status_code < 500
        not_json = await c.post("/users", content=b"{", headers={"content-type": "application/json"})
        assert 400 <= not_json.status_code < 500
        unknown = await c.post(
            "/users/nobody-at-all@contoso.test/messages",
            json={"folder": "inbox", "from": "a@fabrikam.test", "to": ["nobody-at-all@contoso.test"]}
            | {"subject": "x", "body": "x", "body_type": "text"},
        )
        assert unknown.status_code == 404


async def test_delivered_message_carries_every_listed_field(emulator):
    conn = await connect(emulator)
    msg = await deliver(
        emulator,
        conn.email,
        folder="inbox",
        **{"from": "Fiona@fabrikam.test"},
        to=[conn.email],
        cc=["carl@fabrikam.test"],
        subject="All fields",
        body="Plain body text",
        body_type="text",
        importance="low",
        attachments=[{"name": "a.txt", "content_type": "text/plain", "content": "aGk="}],
        conversation_id="conv-123",
        in_reply_to="<parent@fabrikam.test>",
        headers={"X-Board-Item": "item-9"},
    )
    assert msg["id"]
    async with conn.graph(prefer=IMMUTABLE) as g:
        got = await g.get(
            f"/me/messages/{msg['id']}",
            params={
                "$select": "subject,from,toRecipients,ccRecipients,body,importance,hasAttachments,"
                "conversationId,internetMessageHeaders,parentFolderId"
            },
        )
    assert got.status_code == 200, got.text
    m = got.json()
    assert m["subject"] == "All fields"
    assert m["from"]["emailAddress"]["address"].lower() == "fiona@fabrikam.test"
    assert [r["emailAddress"]["address"] for r in m["toRecipients"]] == [conn.email]
    assert [r["emailAddress"]["address"] for r in m["ccRecipients"]] == ["carl@fabrikam.test"]
    assert "Plain body text" in m["body"]["content"]
    assert m["importance"] == "low"
    assert m["hasAttachments"] is True
    assert m["conversationId"] == "conv-123"
    headers = {h["name"].lower(): h["value"] for h in m["internetMessageHeaders"]}
    assert headers["x-board-item"] == "item-9"
    assert headers["in-reply-to"] == "<parent@fabrikam.test>"


async def test_move_to_unknown_message_or_bad_body_is_4xx(emulator):
    email = await create_user(emulator)
    resp = await move(emulator, email, "AAMkAGnosuchmessage", "archive")
    assert resp.status_code == 404
    msg = await deliver(emulator, email)
    async with control(emulator) as c:
        bad = await c.post(f"/users/{email}/messages/{msg['id']}/move", json={})
    assert 400 <= bad.status_code < 500


async def test_sent_lists_what_the_mailbox_sent(emulator):
    conn = await connect(emulator)
    subject = unique("Sent ")
    async with conn.graph() as g:
        resp = await g.post(
            "/me/sendMail",
            json={
                "message": {
                    "subject": subject,
                    "body": {"contentType": "text", "content": "hello"},
                    "toRecipients": [{"emailAddress": {"address": "x@fabrikam.test"}}],
                }
            },
        )
    assert resp.status_code == 202
    async with control(emulator) as c:
        sent = await c.get(f"/users/{conn.email}/sent")
    assert sent.status_code == 200
    data = sent.json()
    entries = data.get("value", data) if isinstance(data, dict) else data
    # The entry's shape is the emulator's own; it must be one entry and name the subject.
    assert len(entries) == 1, entries
    assert subject in json.dumps(entries[0])


async def test_request_log_records_what_was_read(emulator):
    conn = await connect(emulator)
    msg = await deliver(emulator, conn.email)
    async with conn.graph(prefer=IMMUTABLE) as g:
        ok = await g.get(f"/me/messages/{msg['id']}", params={"$select": "subject,from"})
        assert ok.status_code == 200
        missing = await g.get("/me/messages/AAMkAGnosuchmessage")
        assert missing.status_code == 404
    async with control(emulator) as c:
        resp = await c.get("/requests")
    assert resp.status_code == 200
    data = resp.json()
    log = data.get("value", data) if isinstance(data, dict) else data
    mine = [e for e in log if e.get("mailbox") == conn.email]
    assert len(mine) >= 2, log[-5:]
    read = next(e for e in mine if e.get("message_id") == msg["id"])
    for key in ("time", "method", "path", "mailbox", "message_id", "select", "status"):
        assert key in read, (key, read)
    assert read["method"] == "GET"
    assert read["status"] == 200
    assert sorted(read["select"]) == ["from", "subject"]
    assert msg["id"] in read["path"]
    failed = next(e for e in mine if e["status"] == 404)
    assert failed["method"] == "GET"
    raw = resp.text
    assert conn.access_token not in raw and conn.refresh_token not in raw, "the log holds no tokens"


async def test_issued_tokens_lists_every_access_and_refresh_token(emulator):
    conn = await connect(emulator)
    rotated = (await refresh(conn)).json()
    async with control(emulator) as c:
        resp = await c.get("/issued-tokens")
    assert resp.status_code == 200
    text = resp.text
    for token in (conn.access_token, conn.refresh_token, rotated["access_token"], rotated["refresh_token"]):
        assert token in text


async def test_faults_put_and_delete(emulator):
    async with control(emulator) as c:
        put = await c.put("/faults", json={"latency_ms": 1})
        assert put.status_code in (200, 204), put.text
        bad = await c.put("/faults", json={"error_rate": 7})
        assert 400 <= bad.status_code < 500
        cleared = await c.delete("/faults")
        assert cleared.status_code in (200, 204)


async def test_control_api_answers_loopback_only(tmp_path):
    """Reached through a non-loopback address, /_emulator/ is refused while Graph still answers."""
    non_loopback = _non_loopback_address()
    port = free_port()
    data_dir = tmp_path / "emu"
    log = (tmp_path / "emu.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "EMULATOR_NO_SNAPSHOT": "true"},
    )
    try:
        # The certificate names 127.0.0.1/localhost only; trust the CA but not the name for this address.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        deadline = time.monotonic() + 30
        while True:
            try:
                ctx.load_verify_locations(str(data_dir / "ca.pem"))
                async with httpx.AsyncClient(verify=ctx) as http:
                    health = await http.get(f"https://127.0.0.1:{port}/_emulator/health")
                if health.status_code == 200:
                    break
            except (OSError, httpx.HTTPError):
                pass
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.2)
        async with httpx.AsyncClient(verify=ctx) as http:
            remote = await http.post(
                f"https://{non_loopback}:{port}/_emulator/users", json={"email": "r@contoso.test"}
            )
            assert remote.status_code == 403, remote.text
            graph = await http.get(f"https://{non_loopback}:{port}/v1.0/me")
            assert graph.status_code == 401
            local = await http.post(
                f"https://127.0.0.1:{port}/_emulator/users", json={"email": "l@contoso.test"}
            )
            assert local.status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _non_loopback_address() -> str:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing interface
        address = str(s.getsockname()[0])
    assert not address.startswith("127."), address
    return address
