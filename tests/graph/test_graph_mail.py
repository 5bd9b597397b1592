"""The Graph mail client against the emulator: exactly the fields asked for, folders, delta,
subscriptions, sending, and typed errors. The emulator's request log proves what was read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from graph.errors import Conflict, Forbidden, GraphError, NotFound, SyncStateExpired, Unauthorized
from graph.identity import Identity, TokenSet
from graph.mail import WELL_KNOWN_FOLDERS, GraphMail, MailboxClient
from graph.tokens import with_token_refresh
from graph.wire import Message, OutgoingMessage
from tests.graph.support import (
    SCOPES,
    RegisteredApp,
    ValidatingReceiver,
    connect,
    control,
    deliver,
    request_log,
    unique,
)
from tests.support.emulator_server import RunningEmulator


@pytest.fixture
async def mailbox(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> tuple[str, TokenSet, MailboxClient]:
    email, tokens = await connect(emulator, graph_app, identity)
    return email, tokens, graph.mailbox(email, tokens.access_token)


async def test_get_message_sends_select_exactly_as_asked(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    msg = await deliver(emulator, email, subject="Quarterly numbers")
    message = await client.get_message(msg["id"], ["subject", "from"])
    assert message.subject == "Quarterly numbers"
    assert message.from_ is not None and message.from_.email_address is not None
    assert message.from_.email_address.address == "sender@fabrikam.test"
    assert message.body is None and message.body_preview is None and message.parent_folder_id is None
    reads = [e for e in await request_log(emulator, email) if e["message_id"] == msg["id"]]
    assert len(reads) == 1
    assert reads[0]["select"] == ["subject", "from"]
    assert reads[0]["method"] == "GET" and reads[0]["status"] == 200


async def test_message_folder_id_reads_parent_folder_id_only(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    junk = await deliver(emulator, email, folder="junkemail", subject="Cheap pills")
    folders = await client.resolve_well_known_folders()
    assert await client.message_folder_id(junk["id"]) == folders["junkemail"]
    reads = [e for e in await request_log(emulator, email) if e["message_id"] == junk["id"]]
    assert [r["select"] for r in reads] == [["parentFolderId"]]


async def test_resolve_well_known_folders_gives_distinct_opaque_ids(
    emulator: RunningEmulator, mailbox
) -> None:
    email, _tokens, client = mailbox
    folders = await client.resolve_well_known_folders()
    assert set(folders) == set(WELL_KNOWN_FOLDERS)
    assert len(set(folders.values())) == len(WELL_KNOWN_FOLDERS)
    assert all(name != folder_id for name, folder_id in folders.items())
    msg = await deliver(emulator, email)
    assert await client.message_folder_id(msg["id"]) == folders["inbox"]


async def test_latest_inbox_message_id_reads_the_id_only(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    assert await client.latest_inbox_message_id() is None
    now = datetime.now(UTC)
    # Exchange keeps whole seconds: distinct received times make "latest" unambiguous.
    await deliver(emulator, email, received=(now - timedelta(minutes=2)).isoformat())
    newest = await deliver(emulator, email, received=(now - timedelta(minutes=1)).isoformat())
    await deliver(emulator, email, received=(now - timedelta(minutes=3)).isoformat())
    await deliver(emulator, email, folder="junkemail", received=now.isoformat())
    assert await client.latest_inbox_message_id() == newest["id"]
    listing = [e for e in await request_log(emulator, email) if e["path"].endswith("/inbox/messages")]
    assert listing and all(e["select"] == ["id"] for e in listing)


async def test_body_as_text_on_request(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    msg = await deliver(emulator, email, body="<p>Hello <b>there</b></p>", body_type="html")
    html = await client.get_message(msg["id"], ["body"])
    assert html.body is not None and html.body.content_type == "html"
    text = await client.get_message(msg["id"], ["body"], body_text=True)
    assert text.body is not None and text.body.content_type == "text"
    assert "<b>" not in (text.body.content or "") and "there" in (text.body.content or "")


async def test_delta_pages_then_reuses_delta_link(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    inbox = (await client.resolve_well_known_folders(["inbox"]))["inbox"]
    sent = [await deliver(emulator, email) for _ in range(23)]
    pages = [p async for p in client.delta(inbox, None, ["id", "subject"], max_page_size=10)]
    assert len(pages) >= 3
    assert all(p.delta_link is None for p in pages[:-1]) and pages[-1].delta_link
    assert all(p.next_link for p in pages[:-1])
    seen = [m.id for p in pages for m in p.messages]
    assert sorted(seen) == sorted(m["id"] for m in sent)
    declared = set(Message.model_fields)  # ignore OData annotations such as @odata.etag
    assert all(m.model_fields_set & declared <= {"id", "subject"} for p in pages for m in p.messages)

    later = await deliver(emulator, email)
    round2 = [p async for p in client.delta(inbox, pages[-1].delta_link, ["id", "subject"])]
    assert [m.id for p in round2 for m in p.messages] == [later["id"]]
    assert round2[-1].delta_link

    deltas = [e for e in await request_log(emulator, email) if "/delta" in e["path"]]
    assert deltas and all(e["select"] in (["id", "subject"], None) for e in deltas)


async def test_expired_delta_state_is_sync_state_expired(emulator: RunningEmulator, mailbox) -> None:
    email, _tokens, client = mailbox
    inbox = (await client.resolve_well_known_folders(["inbox"]))["inbox"]
    pages = [p async for p in client.delta(inbox, None, ["id"])]
    async with control(emulator) as c:
        assert (await c.post(f"/users/{email}/expire-delta")).status_code == 200
    with pytest.raises(SyncStateExpired):
        _ = [p async for p in client.delta(inbox, pages[-1].delta_link, ["id"])]


async def test_links_to_other_hosts_are_never_followed(mailbox) -> None:
    _email, tokens, client = mailbox
    with pytest.raises(GraphError) as excinfo:
        _ = [p async for p in client.delta("inbox", "https://attacker.example/v1.0/delta?x=1", ["id"])]
    assert tokens.access_token.get_secret_value() not in str(excinfo.value)


async def test_missing_message_is_not_found(mailbox) -> None:
    _email, _tokens, client = mailbox
    with pytest.raises(NotFound) as excinfo:
        await client.get_message("AAMkAGnosuchmessage", ["id"])
    assert excinfo.value.status == 404 and excinfo.value.request_id


async def test_call_outside_granted_scopes_is_forbidden(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    email, tokens = await connect(emulator, graph_app, identity, scopes=["User.Read"])
    client = graph.mailbox(email, tokens.access_token)
    assert (await client.get_me()).mailbox == email
    with pytest.raises(Forbidden) as excinfo:
        await client.latest_inbox_message_id()
    assert excinfo.value.status == 403


async def test_subscription_lifecycle(
    emulator: RunningEmulator, mailbox, receiver: ValidatingReceiver
) -> None:
    _email, _tokens, client = mailbox
    state = SecretStr(unique("client-state-"))
    expiry = datetime.now(UTC) + timedelta(days=2)
    sub = await client.create_subscription(
        resource="me/mailFolders('inbox')/messages",
        change_type="created",
        notification_url=f"{receiver.base}/webhooks/graph",
        lifecycle_url=f"{receiver.base}/webhooks/graph/lifecycle",
        client_state=state,
        expiration=expiry,
    )
    assert sub.id and sub.expiration_date_time is not None
    assert abs((sub.expiration_date_time - expiry).total_seconds()) < 2
    assert state.get_secret_value() not in repr(sub)
    with pytest.raises(Conflict):
        await client.create_subscription(
            resource="me/mailFolders('inbox')/messages",
            change_type="created",
            notification_url=f"{receiver.base}/webhooks/graph",
            lifecycle_url=f"{receiver.base}/webhooks/graph/lifecycle",
            client_state=state,
            expiration=expiry,
        )
    later = datetime.now(UTC) + timedelta(days=3)
    renewed = await client.renew_subscription(sub.id, later)
    assert renewed.expiration_date_time is not None
    assert abs((renewed.expiration_date_time - later).total_seconds()) < 2
    await client.reauthorize_subscription(sub.id)
    await client.delete_subscription(sub.id)
    with pytest.raises(NotFound):
        await client.renew_subscription(sub.id, later)


async def test_send_mail_and_reply_carry_custom_headers(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    sender, tokens = await connect(emulator, graph_app, identity)
    recipient, recipient_tokens = await connect(emulator, graph_app, identity)
    client = graph.mailbox(sender, tokens.access_token)
    subject = unique("Board update ")
    await client.send_mail(
        OutgoingMessage(subject=subject, body="Item moved", to=[recipient], headers={"x-oi-origin": "abc"})
    )
    async with control(emulator) as c:
        sent = (await c.get(f"/users/{sender}/sent")).json()
    # The emulator records each request body as sent.
    assert [s["message"]["message"]["subject"] for s in sent] == [subject]
    assert sent[0]["message"]["saveToSentItems"] is True
    assert sent[0]["message"]["message"]["internetMessageHeaders"] == [
        {"name": "x-oi-origin", "value": "abc"}
    ]

    inbox_client = graph.mailbox(recipient, recipient_tokens.access_token)
    arrived_id = await inbox_client.latest_inbox_message_id()
    assert arrived_id
    arrived = await inbox_client.get_message(arrived_id, ["subject", "internetMessageHeaders"])
    assert arrived.subject == subject
    assert any(
        h.name.lower() == "x-oi-origin" and h.value == "abc" for h in arrived.internet_message_headers or []
    )

    await inbox_client.reply(arrived_id, "Thanks", headers={"x-oi-origin": "def"})
    async with control(emulator) as c:
        replies = (await c.get(f"/users/{recipient}/sent")).json()
    assert [r["kind"] for r in replies] == ["reply"]
    assert replies[0]["message"]["comment"] == "Thanks"
    assert replies[0]["message"]["message"] == {
        "internetMessageHeaders": [{"name": "x-oi-origin", "value": "def"}]
    }


def test_outgoing_headers_must_be_custom() -> None:
    with pytest.raises(ValueError, match="must start with 'x-'"):
        OutgoingMessage(subject="s", body="b", to=["a@b.test"], headers={"Reply-To": "x@y.test"})


async def test_401_refreshes_once_and_retries(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    email, tokens = await connect(emulator, graph_app, identity)
    current = {"tokens": tokens}
    refreshes = 0

    async def get_token() -> SecretStr:
        return SecretStr("expired-or-unknown-token")

    async def refresh() -> SecretStr:
        nonlocal refreshes
        refreshes += 1
        current["tokens"] = await identity.refresh(current["tokens"].refresh_token, SCOPES)
        return current["tokens"].access_token

    me = await with_token_refresh(lambda t: graph.mailbox(email, t).get_me(), get_token, refresh)
    assert me.mailbox == email
    assert refreshes == 1
    statuses = [e["status"] for e in await request_log(emulator, email) if e["path"].endswith("/me")]
    assert statuses == [200], "the bogus token is unknown, so the emulator cannot tie it to the mailbox"


async def test_second_401_is_raised_after_exactly_one_refresh(graph: GraphMail) -> None:
    refreshes = 0

    async def get_token() -> SecretStr:
        return SecretStr("bogus-1")

    async def refresh() -> SecretStr:
        nonlocal refreshes
        refreshes += 1
        return SecretStr("bogus-2")

    with pytest.raises(Unauthorized) as excinfo:
        await with_token_refresh(lambda t: graph.mailbox("m", t).get_me(), get_token, refresh)
    assert refreshes == 1
    assert excinfo.value.code == "InvalidAuthenticationToken"
    assert "bogus" not in str(excinfo.value)
