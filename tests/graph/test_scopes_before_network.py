"""Scopes before the network (issue 12): the mailbox client refuses, without sending anything, a call
that needs a scope the connection was not granted (ScopeNotGranted, a Forbidden), and makes calls within
the grant as usual. The transport records every request it is given, so "no request" is proven, not
assumed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr

from activities.mailbox_access import MailboxAccess
from graph.errors import Forbidden, ScopeNotGranted
from graph.identity import Identity
from graph.mail import GraphMail, MailboxClient
from graph.wire import OutgoingMessage
from vault.models import StoredTokens
from vault.token_store import TokenStore

TOKEN = SecretStr("at-scope-test")
MESSAGE = OutgoingMessage(subject="s", body="b", to=["a@b.test"])
LATER = datetime.now(UTC) + timedelta(days=1)


class Recorder:
    """An httpx transport that records each request and answers like Graph would for a granted call."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith(("/sendMail", "/reply")) or request.method == "DELETE":
            return httpx.Response(202 if request.url.path.endswith("/sendMail") else 204)
        if request.url.path == "/v1.0/me":
            return httpx.Response(200, json={"id": "u1", "displayName": "Ada"})
        if (
            request.url.path.endswith("/attachments")
            or request.url.path.endswith("/messages")
            or (request.url.path.endswith("/subscriptions") and request.method == "GET")
        ):
            return httpx.Response(200, json={"value": []})
        if request.url.path.endswith("/delta"):
            return httpx.Response(200, json={"value": [], "@odata.deltaLink": "https://graph.test/v1.0/d"})
        if "/subscriptions" in request.url.path:
            return httpx.Response(
                200 if request.method != "POST" else 201,
                json={
                    "id": "s1",
                    "resource": "me/mailFolders('inbox')/messages",
                    "expirationDateTime": LATER.isoformat(),
                },
            )
        if "/mailFolders" in request.url.path and request.url.path.endswith("Folders"):
            return httpx.Response(200, json={"value": [{"id": "f1", "displayName": "Inbox"}]})
        return httpx.Response(200, json={"id": "m1", "parentFolderId": "f1", "displayName": "Inbox"})


async def _drain(client: MailboxClient) -> None:
    async for _ in client.delta("inbox", None, ["id"]):
        pass


Call = Callable[[MailboxClient], Awaitable[Any]]
READS: list[tuple[str, Call]] = [
    ("latest inbox message", lambda m: m.latest_inbox_message_id()),
    ("get message", lambda m: m.get_message("m1", ["subject"])),
    ("get folder", lambda m: m.get_folder("inbox")),
    ("resolve folder", lambda m: m.resolve_well_known_folders()),
    ("list folders", lambda m: m.list_folders()),
    ("recent messages", lambda m: m.recent_messages("inbox", 5, ["subject"])),
    ("attachments", lambda m: m.attachments("m1")),
    ("delta", _drain),
    ("find sent message", lambda m: m.sent_message_exists("<a.b@c.test>")),
    (
        "create subscription",
        lambda m: m.create_subscription(
            resource="me/mailFolders('inbox')/messages",
            change_type="created",
            notification_url="https://hook.test/webhooks/graph",
            lifecycle_url="https://hook.test/webhooks/graph/lifecycle",
            client_state=SecretStr("cs"),
            expiration=LATER,
        ),
    ),
    ("renew subscription", lambda m: m.renew_subscription("s1", LATER)),
    ("read subscription", lambda m: m.get_subscription("s1")),
    ("list subscriptions", lambda m: m.list_subscriptions()),
    ("reauthorize", lambda m: m.reauthorize_subscription("s1")),
]
SENDS: list[tuple[str, Call]] = [
    ("send mail", lambda m: m.send_mail(MESSAGE)),
    ("reply", lambda m: m.reply("m1", "thanks")),
]


def _client(granted: list[str] | None) -> tuple[MailboxClient, Recorder]:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return GraphMail(http, "https://graph.test/v1.0").mailbox("conn-1", TOKEN, granted), recorder


@pytest.mark.parametrize(("operation", "call"), SENDS, ids=[o for o, _ in SENDS])
async def test_sending_without_mail_send_is_refused_before_any_request(operation: str, call: Call) -> None:
    client, recorder = _client(["User.Read", "Mail.Read"])
    with pytest.raises(ScopeNotGranted) as refused:
        await call(client)
    assert recorder.requests == []
    assert refused.value.scope == "Mail.Send" and refused.value.code == "scopeNotGranted"
    assert str(refused.value) == (
        f"{operation}: needs Mail.Send, which the connection was not granted; no request was sent"
    )
    assert isinstance(refused.value, Forbidden)  # handled wherever Graph's own 403 is
    assert TOKEN.get_secret_value() not in str(refused.value)


@pytest.mark.parametrize(("operation", "call"), READS, ids=[o for o, _ in READS])
async def test_reading_without_mail_read_is_refused_before_any_request(operation: str, call: Call) -> None:
    client, recorder = _client(["User.Read", "Mail.Send"])
    with pytest.raises(ScopeNotGranted) as refused:
        await call(client)
    assert recorder.requests == []
    assert refused.value.scope == "Mail.Read"
    assert str(refused.value).startswith(f"{operation}: needs Mail.Read")


async def test_the_profile_needs_user_read() -> None:
    client, recorder = _client(["Mail.Read"])
    with pytest.raises(ScopeNotGranted, match=r"get me: needs User\.Read"):
        await client.get_me()
    assert recorder.requests == []


@pytest.mark.parametrize(("operation", "call"), READS + SENDS, ids=[o for o, _ in READS + SENDS])
async def test_calls_within_the_grant_are_sent(operation: str, call: Call) -> None:
    # Granted as Microsoft may spell it: any case, or the full resource URI.
    client, recorder = _client(["user.read", "https://graph.microsoft.com/Mail.Read", "MAIL.SEND"])
    await call(client)
    assert recorder.requests, operation


async def test_deleting_a_subscription_is_always_attempted() -> None:
    """Cleanup is not gated: a disconnect removes what the service made whatever the grant says now."""
    client, recorder = _client(["User.Read"])
    await client.delete_subscription("s1")
    assert [(r.method, r.url.path) for r in recorder.requests] == [("DELETE", "/v1.0/subscriptions/s1")]


class StoredFor:
    """The token store's read, for one connection granted `scopes` (MailboxAccess needs nothing else)."""

    def __init__(self, scopes: list[str]) -> None:
        self.stored = StoredTokens(
            access_token=TOKEN, refresh_token=SecretStr("rt-scope-test"), expires_at=LATER, scopes=scopes
        )

    async def load(self, connection_id: str) -> StoredTokens:
        return self.stored


@pytest.mark.parametrize(
    ("granted", "call", "missing"),
    [
        (["User.Read", "Mail.Read"], SENDS[0][1], "Mail.Send"),
        (["User.Read", "Mail.Send"], READS[1][1], "Mail.Read"),
    ],
)
async def test_the_workers_mailbox_access_checks_the_connections_stored_grant(
    granted: list[str], call: Call, missing: str
) -> None:
    """Every Graph call the activities and the API make goes through MailboxAccess, which hands the
    stored grant to the client."""
    recorder = Recorder()
    graph = GraphMail(httpx.AsyncClient(transport=httpx.MockTransport(recorder)), "https://graph.test/v1.0")
    access = MailboxAccess(cast(TokenStore, StoredFor(granted)), cast(Identity, None), graph)
    with pytest.raises(ScopeNotGranted) as refused:
        await access.call("conn-1", call)
    assert refused.value.scope == missing and recorder.requests == []
    with pytest.raises(ScopeNotGranted):
        await call(await access.client("conn-1"))
    assert recorder.requests == []
