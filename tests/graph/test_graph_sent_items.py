"""Sending with a chosen internetMessageId and finding it in Sent Items: how a sender learns whether a
sendMail whose 202 it never saw went out (activities/send_email.py)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from graph.errors import Forbidden
from graph.identity import Identity
from graph.mail import GraphMail
from graph.wire import OutgoingMessage
from tests.graph.support import RegisteredApp, connect, request_log, unique
from tests.support.emulator_server import RunningEmulator


def _imid() -> str:
    return f"<send.{uuid.uuid4()}@contoso.test>"


async def test_a_sent_message_is_found_by_its_internet_message_id(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    sender, tokens = await connect(emulator, graph_app, identity)
    recipient, _ = await connect(emulator, graph_app, identity)
    client = graph.mailbox(sender, tokens.access_token)
    imid = _imid()
    assert not await client.sent_message_exists(imid)

    await client.send_mail(
        OutgoingMessage(subject=unique("Done "), body="b", to=[recipient], internet_message_id=imid)
    )

    assert await client.sent_message_exists(imid)
    assert not await client.sent_message_exists(_imid())
    lookups = [e for e in await request_log(emulator, sender) if e["path"].endswith("/sentitems/messages")]
    # Ids only: the lookup never reads the mail it finds.
    assert {tuple(e["select"]) for e in lookups} == {("id",)}


async def test_finding_sent_mail_needs_mail_read(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    sender, tokens = await connect(emulator, graph_app, identity, scopes=["User.Read", "Mail.Send"])
    client = graph.mailbox(sender, tokens.access_token)
    with pytest.raises(Forbidden):
        await client.sent_message_exists(_imid())


def test_an_internet_message_id_must_be_rfc_2822() -> None:
    for bad in ["a@b.test", "<a b@c.test>", "<nobody>"]:
        with pytest.raises(ValidationError):
            OutgoingMessage(subject="s", body="b", to=["a@b.test"], internet_message_id=bad)
    message = OutgoingMessage(subject="s", body="b", to=["a@b.test"], internet_message_id="<x.y@b.test>")
    assert message.to_graph()["internetMessageId"] == "<x.y@b.test>"
    assert "internetMessageId" not in OutgoingMessage(subject="s", body="b", to=["a@b.test"]).to_graph()
