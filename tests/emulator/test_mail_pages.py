"""The emulator's own mail pages: /_emulator/mail (mailboxes and a send form), POST /_emulator/mail/send,
/_emulator/mail/{email} (a mailbox). Black-box, against the shared emulator process."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.emulator.helpers import (
    Connection,
    connect,
    control,
    create_user,
    deliver,
    subscription_body,
    unique,
)
from tests.emulator.receiver import Hook
from tests.support.emulator_server import RunningEmulator

IMMUTABLE = 'IdType="ImmutableId"'


class _Page(HTMLParser):
    """What a test needs from a page: the inputs with their labels, the links, the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: list[dict[str, str]] = []  # input, select, textarea
        self.labels: set[str] = set()  # their `for`
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.tags: set[str] = set()
        self.metas: list[dict[str, str]] = []
        self.text: list[str] = []
        self._link: list[str] | None = None
        self._href = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append({"tag": tag, **a})
        elif tag == "label":
            self.labels.add(a.get("for", ""))
        elif tag == "meta":
            self.metas.append(a)
        elif tag == "a":
            self._link, self._href = [], a.get("href", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((self._href, " ".join("".join(self._link).split())))
            self._link = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._link is not None:
            self._link.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _browser(emu: RunningEmulator) -> httpx.AsyncClient:
    """A same-origin browser: its form POSTs carry the emulator's own Origin."""
    return httpx.AsyncClient(
        base_url=emu.base_url, verify=emu.ssl_context(), headers={"Origin": emu.base_url}, timeout=30
    )


async def _send(emu: RunningEmulator, **form: str) -> httpx.Response:
    async with _browser(emu) as b:
        return await b.post("/_emulator/mail/send", data=form)


async def _control_messages(emu: RunningEmulator, email: str) -> list[dict[str, Any]]:
    async with control(emu) as c:
        resp = await c.get(f"/users/{email}/messages")
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def _subscribed(emu: RunningEmulator, hook: Hook) -> Connection:
    """As tests/emulator/test_emu_subscriptions.py's created-then-updated test: an inbox subscription."""
    conn = await connect(emu)
    async with conn.graph(prefer=IMMUTABLE) as g:
        resp = await g.post("/subscriptions", json=subscription_body(hook))
    assert resp.status_code == 201, resp.text
    return conn


async def test_the_form_delivers_like_the_control_api_and_notifies(emulator, hook):
    conn = await _subscribed(emulator, hook)
    sender = f"{unique('grace')}@customer.example"

    async with _browser(emulator) as b:
        index = await b.get("/_emulator/mail")
    assert index.status_code == 200
    page = _Page(index.text)
    assert (f"/_emulator/mail/{conn.email}", conn.email) in page.links, "the mailbox is listed with a link"
    assert any(f.get("name") == "to_mailbox" for f in page.fields)

    subject = unique("Invoice ")
    resp = await _send(
        emulator,
        **{"from": f"Grace Hopper <{sender}>", "to_mailbox": conn.email, "to": ""},
        subject=subject,
        body="Please pay.\nThanks",
        in_reply_to="",
    )
    assert resp.status_code == 303, resp.text
    location = urlsplit(resp.headers["location"])
    assert unquote(location.path) == f"/_emulator/mail/{conn.email}"
    message_id = parse_qs(location.query)["delivered"][0]

    # The same subscription, through the control API, for comparison.
    control_subject = unique("By control ")
    by_control = await deliver(emulator, conn.email, subject=control_subject)
    await hook.wait_for(
        lambda h: (
            {(n["resourceData"]["id"], n["changeType"]) for n in h.notifications()}
            >= {(i, t) for i in (message_id, by_control["id"]) for t in ("created", "updated")}
        ),
        what="created and updated for both messages",
    )
    kinds: dict[str, list[str]] = {}
    for n in hook.notifications():
        kinds.setdefault(n["resourceData"]["id"], []).append(n["changeType"])
    assert kinds[message_id] == kinds[by_control["id"]], "the form notifies as the control API does"

    async with conn.graph(prefer=IMMUTABLE) as g:
        listed = await g.get(
            "/me/mailFolders/inbox/messages", params={"$select": "id,subject,from,body", "$top": "50"}
        )
    assert listed.status_code == 200, listed.text
    mine = next(m for m in listed.json()["value"] if m["id"] == message_id)
    assert mine["subject"] == subject
    assert mine["from"]["emailAddress"] == {"name": "Grace Hopper", "address": sender}
    assert "Please pay." in mine["body"]["content"]

    # The unknown sender is a mailbox now (replies to it can be read); the mailbox page says so.
    async with control(emulator) as c:
        users = (await c.get("/users")).json()
    assert sender in {u["email"] for u in users}
    async with _browser(emulator) as b:
        shown = await b.get(resp.headers["location"])
    assert shown.status_code == 200
    words = _Page(shown.text).words
    assert f"Delivered \u201c{subject}\u201d" in words
    assert f"{sender} was not a mailbox yet" in words
    # Newest first: the control API's message came after the form's.
    assert words.index(control_subject) < words.rindex(subject)


async def test_the_mailbox_page_escapes_what_it_shows(emulator):
    email = await create_user(emulator, "shown")
    subject = "<script>alert('x')</script> & more"
    resp = await _send(
        emulator,
        **{"from": "evil@fabrikam.test", "to": email},
        subject=subject,
        body="<img src=x onerror=alert(1)>\nline two",
    )
    assert resp.status_code == 303, resp.text
    await deliver(emulator, email, folder="archive", subject="Filed away", body="<p>Kept <b>here</b></p>")
    async with _browser(emulator) as b:
        shown = await b.get(f"/_emulator/mail/{email}")
    assert shown.status_code == 200
    html = shown.text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    page = _Page(html)
    assert subject in page.words, "shown as text"
    assert "<img src=x onerror=alert(1)>" in page.words
    assert "Kept here" in page.words, "an html body is shown as its text"
    assert "script" not in page.tags
    assert any(m.get("name") == "viewport" for m in page.metas)
    assert "Content-Security-Policy" in shown.headers
    # Per folder: Inbox, Sent Items, then the others with mail.
    assert (
        page.words.index("Inbox (1)") < page.words.index("Sent Items (0)") < page.words.index("Archive (1)")
    )


async def test_a_reply_link_makes_a_reply_in_the_same_conversation(emulator):
    conn = await connect(emulator)
    customer = await create_user(emulator, "customer")
    first = await _send(emulator, **{"from": customer, "to": conn.email}, subject="Question", body="Hi")
    assert first.status_code == 303, first.text
    async with _browser(emulator) as b:
        page = _Page((await b.get(f"/_emulator/mail/{conn.email}")).text)
        href = next(h for h, text in page.links if text == f"Write again as {customer}")
        form_page = await b.get(href)
    assert form_page.status_code == 200
    prefilled = {f.get("name"): f.get("value", "") for f in _Page(form_page.text).fields}
    assert prefilled["from"] == customer
    assert prefilled["subject"] == "Re: Question"
    assert prefilled["in_reply_to"].startswith("<")
    assert f'<option value="{conn.email}" selected>' in form_page.text

    reply = await _send(
        emulator,
        **{"from": customer, "to_mailbox": conn.email, "to": ""},
        subject=prefilled["subject"],
        body="Any news?",
        in_reply_to=prefilled["in_reply_to"],
    )
    assert reply.status_code == 303, reply.text
    async with conn.graph() as g:
        got = (
            await g.get("/me/messages", params={"$select": "subject,conversationId,internetMessageHeaders"})
        ).json()["value"]
    by_subject = {m["subject"]: m for m in got}
    assert by_subject["Re: Question"]["conversationId"] == by_subject["Question"]["conversationId"]


async def test_a_cross_origin_post_is_refused_and_delivers_nothing(emulator):
    email = await create_user(emulator, "guarded")
    form = {"from": "someone@fabrikam.test", "to": email, "subject": "forged", "body": "x"}
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=emulator.ssl_context()) as b:
        for origin in ("https://evil.example", "null", "https://127.0.0.1:1"):
            resp = await b.post("/_emulator/mail/send", data=form, headers={"Origin": origin})
            assert resp.status_code == 403, (origin, resp.text)
            assert "Nothing was delivered" in _Page(resp.text).words
    assert await _control_messages(emulator, email) == []
    async with control(emulator) as c:
        users = {u["email"] for u in (await c.get("/users")).json()}
    assert "someone@fabrikam.test" not in users, "a refused send creates no mailbox either"
    # Without an Origin header (curl, an old browser) it is the control API's stance: accepted.
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=emulator.ssl_context()) as b:
        resp = await b.post("/_emulator/mail/send", data=form)
    assert resp.status_code == 303, resp.text


async def test_bad_input_is_a_4xx_page_saying_what_is_wrong(emulator):
    email = await create_user(emulator, "strict")
    nobody = f"{unique('nobody')}@contoso.test"
    new_sender = f"{unique('fresh')}@fabrikam.test"
    cases = [
        ({"from": new_sender, "to_mailbox": "", "to": ""}, 400, "To is empty"),
        ({"from": "", "to": email}, 400, "From is empty"),
        ({"from": "not an address", "to": email}, 400, "From: 'not an address' is not an email address"),
        ({"from": new_sender, "to": "bob at example"}, 400, "To: 'bob at example' is not an email address"),
        ({"from": new_sender, "to": nobody}, 404, f"To: {nobody} is not a mailbox of the emulator"),
        ({"from": new_sender, "to": email, "subject": "x" * 1001}, 422, "subject"),
    ]
    for form, status, says in cases:
        resp = await _send(emulator, **{"subject": "kept", "body": "typed body", **form})
        assert resp.status_code == status, (form, resp.status_code, resp.text)
        page = _Page(resp.text)
        assert says in page.words, (says, page.words)
        values = {f.get("name"): f.get("value", "") for f in page.fields}
        assert values["from"] == form["from"], "what was typed is kept"
        assert "typed body" in resp.text
    assert await _control_messages(emulator, email) == []
    async with control(emulator) as c:
        users = {u["email"] for u in (await c.get("/users")).json()}
    assert new_sender not in users, "nothing delivered, no sender mailbox made"
    async with _browser(emulator) as b:
        missing = await b.get(f"/_emulator/mail/{nobody}")
    assert missing.status_code == 404
    assert "is not a mailbox of the emulator" in _Page(missing.text).words


async def test_pages_label_every_input_and_fit_a_phone(emulator):
    email = await create_user(emulator, "labels")
    async with _browser(emulator) as b:
        pages = await asyncio.gather(b.get("/_emulator/mail"), b.get(f"/_emulator/mail/{email}"))
    for resp in pages:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/html")
        page = _Page(resp.text)
        assert any(
            m.get("name") == "viewport" and "width=device-width" in m.get("content", "") for m in page.metas
        )
        assert "script" not in page.tags
        assert "emulator's own, not Microsoft's" in page.words
        for field in page.fields:
            assert field.get("id") in page.labels, f"no label for {field}"
    index = _Page(pages[0].text)
    assert {f["name"] for f in index.fields} == {"from", "to_mailbox", "to", "subject", "body", "in_reply_to"}
