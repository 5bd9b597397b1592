"""sendMail with a client-chosen internetMessageId (how a sender finds its own mail after a lost 202),
and the fault that holds the 202 after the mail is sent."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.emulator.helpers import assert_graph_error, connect, control, mail_address, unique


def _message(to: str, subject: str, **extra: object) -> dict[str, object]:
    return {
        "subject": subject,
        "body": {"contentType": "text", "content": "Hello from a test"},
        "toRecipients": [mail_address(to)],
        **extra,
    }


def _imid() -> str:
    return f"<send.{uuid.uuid4()}.{uuid.uuid4()}@contoso.test>"


async def _find(conn, folder: str, imid: str) -> list[dict[str, object]]:
    async with conn.graph() as g:
        resp = await g.get(
            f"/me/mailFolders/{folder}/messages",
            params={"$filter": f"internetMessageId eq '{imid}'", "$select": "id,internetMessageId"},
        )
    assert resp.status_code == 200, resp.text
    found: list[dict[str, object]] = resp.json()["value"]
    return found


async def test_the_chosen_internet_message_id_is_on_the_sent_and_delivered_copies(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    imid = _imid()
    async with alice.graph() as g:
        resp = await g.post(
            "/me/sendMail", json={"message": _message(bob.email, unique("Ids "), internetMessageId=imid)}
        )
    assert resp.status_code == 202, resp.text
    sent = await _find(alice, "sentitems", imid)
    assert [m["internetMessageId"] for m in sent] == [imid]
    assert "id" in sent[0]
    assert [m["internetMessageId"] for m in await _find(bob, "inbox", imid)] == [imid]
    # Another id finds nothing; the inbox of the sender has no copy.
    assert await _find(alice, "sentitems", _imid()) == []
    assert await _find(alice, "inbox", imid) == []


async def test_graph_does_not_deduplicate_the_same_id_sent_twice(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    imid = _imid()
    async with alice.graph() as g:
        for _ in range(2):
            resp = await g.post(
                "/me/sendMail",
                json={"message": _message(bob.email, unique("Twice "), internetMessageId=imid)},
            )
            assert resp.status_code == 202, resp.text
    assert len(await _find(bob, "inbox", imid)) == 2


async def test_a_malformed_internet_message_id_is_400_and_nothing_is_sent(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    for bad in ["no-brackets@contoso.test", "<no-at-sign>", "<two@at@signs>", "<with space@x.test>", 42]:
        async with alice.graph() as g:
            resp = await g.post(
                "/me/sendMail", json={"message": _message(bob.email, "bad id", internetMessageId=bad)}
            )
        assert_graph_error(resp, 400, "ErrorInvalidProperty")
    async with bob.graph() as g:
        inbox = await g.get("/me/mailFolders/inbox/messages", params={"$select": "subject"})
    assert inbox.json()["value"] == []


async def test_a_filter_on_internet_message_id_needs_a_quoted_string(emulator):
    alice = await connect(emulator)
    async with alice.graph() as g:
        resp = await g.get(
            "/me/mailFolders/sentitems/messages", params={"$filter": "internetMessageId eq <a@b>"}
        )
    assert_graph_error(resp, 400, "BadRequest")


async def test_a_held_202_comes_after_the_mail_is_sent_and_delivered(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    imid = _imid()
    async with control(emulator) as c:
        assert (await c.put("/faults", json={"send_answer_delay_ms": 3000})).status_code == 200
    try:
        started = time.monotonic()
        async with alice.graph() as g:
            try:
                await g.post(
                    "/me/sendMail",
                    json={"message": _message(bob.email, unique("Held "), internetMessageId=imid)},
                    timeout=1.0,
                )
                raise AssertionError("the 202 should have been held past the client's timeout")
            except httpx.ReadTimeout:
                pass
        assert time.monotonic() - started < 2.5
        # The client gave up, but the mail went: in Sent Items and in the recipient's inbox.
        assert len(await _find(alice, "sentitems", imid)) == 1
        assert len(await _find(bob, "inbox", imid)) == 1
    finally:
        async with control(emulator) as c:
            await c.delete("/faults")
