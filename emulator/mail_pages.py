"""The emulator's own mail pages (not Microsoft's): `GET /_emulator/mail` lists the mailboxes and has a
"Send an email" form, `POST /_emulator/mail/send` delivers it, `GET /_emulator/mail/{email}` shows a
mailbox. They stand in for "someone writes to the mailbox" and "look in a mailbox" (Outlook on the web,
for real Microsoft), so a demo needs no curl.

Delivery is the control API's own: the form is turned into the JSON body of
`POST /_emulator/users/{to}/messages` and delivered by the function behind that route
(control_mailbox.deliver_message), so the same checks run and the same change notifications go to the
recipient's subscriptions. Like the control
API these pages have no auth and answer loopback clients only; a POST whose Origin header names another
origin is refused (403), a cheap guard against another site's page posting here.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from emulator import control_mailbox
from emulator.context import ctx_of
from emulator.control_common import control_router, mailbox
from emulator.control_models import DeliverIn, parse
from emulator.models import Folder, Message, User
from emulator.serialize import html_to_text

router = control_router()

# What the control API accepts as an address (control_models.AddressIn).
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
# The newest this many messages of a folder are shown; a benchmark mailbox can hold many thousands.
SHOWN_PER_FOLDER = 100
_FIELDS = ("from", "to_mailbox", "to", "subject", "body", "in_reply_to")

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:1rem;line-height:1.45;
color:#1b1b1b;background:#fafafa}
main{max-width:52rem;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.4rem 0 .5rem}
.who{color:#555;font-size:.9rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.8rem 0 .2rem}
.hint{display:block;font-weight:400;color:#555;font-size:.85rem}
input,select,textarea{width:100%;font:inherit;padding:.45rem;border:1px solid #888;border-radius:4px;
background:#fff}
textarea{min-height:8rem}
button{font:inherit;margin-top:1rem;padding:.55rem 1.2rem;border:0;border-radius:4px;background:#0b57d0;
color:#fff;cursor:pointer}
.notice,.problem{padding:.6rem .8rem;border-radius:4px;margin:.8rem 0}
.notice{background:#e6f4ea;border:1px solid #8bc79b}.problem{background:#fdecea;border:1px solid #e0a39d}
ul.boxes{padding-left:1.2rem}ul.boxes li{margin:.3rem 0;overflow-wrap:anywhere}
article{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.7rem .8rem;margin:.6rem 0}
article h3{font-size:1rem;margin:0 0 .3rem;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .6rem;margin:0 0 .5rem;font-size:.9rem}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:.4rem 0;padding:.5rem;background:#f4f4f4;
border-radius:4px}
.actions a{margin-right:1rem;font-size:.9rem}
a{color:#0b57d0}
"""

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser posts the send form with `Origin: null`, which the origin
    # check below refuses. same-origin sends the origin to these pages only.
    "Referrer-Policy": "same-origin",
    # No script at all; styles are the page's own <style>.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
}


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - Outlook emulator</title><style>{_STYLE}</style></head><body><main>"
        "<p class=\"who\">Outlook emulator: these pages are the emulator's own, not Microsoft's.</p>"
        f"{content}</main></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _mailbox_url(address: str) -> str:
    return "/_emulator/mail/" + quote(address, safe="@")


def _send_url(**prefill: str) -> str:
    return "/_emulator/mail?" + urlencode(prefill) + "#send"


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _addresses(people: Iterable[tuple[str, str]]) -> str:
    return ", ".join(email.utils.formataddr(p) if p[0] else p[1] for p in people)


def _users(request: Request) -> list[User]:
    return sorted(ctx_of(request).store.state.users.values(), key=lambda u: u.email.lower())


# -- the mailboxes and the send form -------------------------------------------------------------------


def _send_form(users: list[User], values: dict[str, str]) -> str:
    def field(name: str) -> str:
        return escape(values.get(name, ""))

    chosen = values.get("to_mailbox", "")
    options = ['<option value="">(type an address below)</option>'] + [
        f'<option value="{escape(u.email)}"{" selected" if u.email.lower() == chosen.lower() else ""}>'
        f"{escape(u.email)}</option>"
        for u in users
    ]
    return (
        '<h2 id="send">Send an email</h2>'
        '<form method="post" action="/_emulator/mail/send">'
        '<label for="from">From <span class="hint">any address, or Name &lt;address&gt;; an address that '
        "is not a mailbox here yet becomes one, so replies to it can be read on its page</span></label>"
        f'<input id="from" name="from" type="text" required autocomplete="off" value="{field("from")}">'
        '<label for="to_mailbox">To: a mailbox of the emulator</label>'
        f'<select id="to_mailbox" name="to_mailbox">{"".join(options)}</select>'
        '<label for="to">or To: another address <span class="hint">used instead of the mailbox above '
        "when filled in; the emulator delivers only into its own mailboxes</span></label>"
        f'<input id="to" name="to" type="text" autocomplete="off" value="{field("to")}">'
        '<label for="subject">Subject</label>'
        f'<input id="subject" name="subject" type="text" value="{field("subject")}">'
        '<label for="body">Body <span class="hint">plain text</span></label>'
        f'<textarea id="body" name="body" rows="8">{field("body")}</textarea>'
        '<label for="in_reply_to">In-Reply-To <span class="hint">optional: the Message-ID of the email '
        "this answers, e.g. &lt;abc@contoso.test&gt;, to make it a reply in the same conversation; the "
        "Reply links on a mailbox page fill it in</span></label>"
        f'<input id="in_reply_to" name="in_reply_to" type="text" autocomplete="off" '
        f'value="{field("in_reply_to")}">'
        '<button type="submit">Send</button></form>'
    )


def _index(request: Request, values: dict[str, str], problem: str = "", status: int = 200) -> HTMLResponse:
    users = _users(request)
    if users:
        items = "".join(
            f'<li><a href="{escape(_mailbox_url(u.email))}">{escape(u.email)}</a> '
            f"({escape(u.display_name)}, {len(u.messages)} message{'' if len(u.messages) == 1 else 's'})</li>"
            for u in users
        )
        listing = f'<ul class="boxes">{items}</ul>'
    else:
        listing = (
            "<p>No mailboxes yet. Sending an email below creates its sender's mailbox; a mailbox is also "
            "made by signing in with a new address on the consent page, by EMULATOR_USERS, or by "
            "<code>POST /_emulator/users</code>.</p>"
        )
    top = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    content = f"<h1>Mailboxes</h1>{top}{listing}{_send_form(users, values)}"
    return _page("Mailboxes", content, status)


@router.get("/mail", response_class=HTMLResponse)
async def mail_index(request: Request) -> HTMLResponse:
    # Prefilled by the Reply links of a mailbox page (and kept when a send is refused).
    values = {k: v for k, v in request.query_params.items() if k in _FIELDS}
    if values.get("to") and not values.get("to_mailbox"):
        to_user = ctx_of(request).store.user_by_email(values["to"])
        if to_user is not None:
            values["to_mailbox"], values["to"] = to_user.email, ""
    return _index(request, values)


# -- sending -------------------------------------------------------------------------------------------


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def _refusal(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    return "The emulator refused the message."


def _validation_problem(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "The emulator refused the message: " + "; ".join(parts)


async def _deliver(request: Request, to_address: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Delivers as the control API's `POST /_emulator/users/{to}/messages` does, through the same
    function, from the JSON body a client would send. Raises HTTPException (404 for a `to_address` that
    is not a mailbox) or RequestValidationError."""
    return control_mailbox.deliver_message(request, mailbox(request, to_address), parse(DeliverIn, payload))


@router.post("/mail/send", response_model=None)
async def mail_send(request: Request) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != _own_origin(request):
        return _page(
            "Refused",
            '<h1>Refused</h1><p class="problem" role="alert">This form may only be sent from the '
            f"emulator's own pages ({escape(_own_origin(request))}); the request came from "
            f"{escape(origin)}. Nothing was delivered.</p>"
            '<p><a href="/_emulator/mail">Back to the mailboxes</a></p>',
            403,
        )
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in _FIELDS}
    values["body"] = str(form.get("body", ""))  # as typed: leading spaces and blank lines count

    sender_name, sender = email.utils.parseaddr(values["from"])
    to_raw = values["to"] or values["to_mailbox"]
    _to_name, to_address = email.utils.parseaddr(to_raw)
    problem = ""
    if not values["from"]:
        problem = "From is empty: type the sender's address."
    elif not _ADDRESS.match(sender):
        problem = f"From: {values['from']!r} is not an email address."
    elif not to_raw:
        problem = "To is empty: choose a mailbox or type an address."
    elif not _ADDRESS.match(to_address):
        problem = f"To: {to_raw!r} is not an email address."
    if problem:
        return _index(request, values, problem, 400)

    payload: dict[str, Any] = {
        "folder": "inbox",
        "from": values["from"],
        "to": [to_raw],
        "subject": values["subject"],
        "body": values["body"],
        "body_type": "text",
    }
    if values["in_reply_to"]:
        irt = values["in_reply_to"]
        payload["in_reply_to"] = irt if irt.startswith("<") else f"<{irt}>"
    try:
        delivered = await _deliver(request, to_address, payload)
    except HTTPException as exc:
        problem = _refusal(exc.detail)
        if exc.status_code == 404:
            problem = (
                f"To: {to_address} is not a mailbox of the emulator, which delivers only into its own "
                "mailboxes. Choose one of the list, or send from that address once (an unknown sender "
                "becomes a mailbox)."
            )
        return _index(request, values, problem, exc.status_code if 400 <= exc.status_code < 500 else 400)
    except RequestValidationError as exc:
        return _index(request, values, _validation_problem(exc), 422)

    # As the control API's POST /users does: an existing mailbox stays as it is.
    _user, created = ctx_of(request).store.add_user(sender, sender_name)
    query = {"delivered": str(delivered["id"])}
    if created:
        query["new_sender"] = sender
    return RedirectResponse(f"{_mailbox_url(to_address)}?{urlencode(query)}", status_code=303)


# -- a mailbox -----------------------------------------------------------------------------------------


def _folder_order(user: User) -> list[Folder]:
    """Inbox, Sent Items, then every other folder that holds mail, by name."""
    by_name = {f.well_known: f for f in user.folders.values() if f.well_known}
    first = [by_name[n] for n in ("inbox", "sentitems") if n in by_name]
    used = {m.folder_id for m in user.messages.values()}
    taken = {f.id for f in first}
    rest = sorted(
        (f for f in user.folders.values() if f.id in used and f.id not in taken),
        key=lambda f: f.display_name.lower(),
    )
    return first + rest


def _body_text(msg: Message) -> str:
    return html_to_text(msg.body) if msg.body_type == "html" else msg.body


def _reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _message_html(user: User, folder: Folder, msg: Message) -> str:
    sent_folder = folder.well_known == "sentitems"
    rows = [("From", _addresses([(msg.from_name, msg.from_address)])), ("To", _addresses(msg.to))]
    if msg.cc:
        rows.append(("Cc", _addresses(msg.cc)))
    rows.append(("Sent" if sent_folder else "Received", _when(msg.sent if sent_folder else msg.received)))
    if msg.internet_message_id:
        rows.append(("Message-ID", msg.internet_message_id))
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    links = []
    reply = {"subject": _reply_subject(msg.subject), "in_reply_to": msg.internet_message_id}
    if sent_folder:
        if msg.to:
            other = msg.to[0][1]
            url = _send_url(**{"from": other, "to": user.email, **reply})
            links.append(f'<a href="{escape(url)}">Reply as {escape(other)}</a>')
    elif msg.from_address:
        url = _send_url(**{"from": user.email, "to": msg.from_address, **reply})
        links.append(f'<a href="{escape(url)}">Reply as {escape(user.email)}</a>')
        if msg.from_address.lower() != user.email.lower():
            url = _send_url(**{"from": msg.from_address, "to": user.email, **reply})
            links.append(f'<a href="{escape(url)}">Write again as {escape(msg.from_address)}</a>')
    subject = escape(msg.subject) if msg.subject else "<em>(no subject)</em>"
    return (
        f"<article><h3>{subject}</h3><dl>{details}</dl><pre>{escape(_body_text(msg))}</pre>"
        f'<p class="actions">{"".join(links)}</p></article>'
    )


@router.get("/mail/{email}", response_class=HTMLResponse)
async def mailbox_page(email: str, request: Request) -> HTMLResponse:
    store = ctx_of(request).store
    user = store.user_by_email(email)
    if user is None:
        return _page(
            "No such mailbox",
            f'<h1>No such mailbox</h1><p class="problem" role="alert">{escape(email)} is not a mailbox of '
            'the emulator.</p><p><a href="/_emulator/mail">See the mailboxes</a></p>',
            404,
        )
    notice = ""
    delivered = store.find_message(user, request.query_params.get("delivered", ""))
    if delivered is not None:
        notice = f"Delivered \u201c{delivered.subject}\u201d to this mailbox's inbox."
        new_sender = request.query_params.get("new_sender", "")
        if new_sender and store.user_by_email(new_sender) is not None:
            notice += f" {new_sender} was not a mailbox yet: it is one now, so replies to it can be read."
    sections = []
    for folder in _folder_order(user):
        msgs = sorted(
            (m for m in user.messages.values() if m.folder_id == folder.id),
            key=lambda m: (m.received, m.arrival),
            reverse=True,
        )
        shown = "".join(_message_html(user, folder, m) for m in msgs[:SHOWN_PER_FOLDER])
        if not msgs:
            shown = "<p>No messages.</p>"
        elif len(msgs) > SHOWN_PER_FOLDER:
            shown += f"<p>{len(msgs) - SHOWN_PER_FOLDER} older messages not shown.</p>"
        sections.append(f"<section><h2>{escape(folder.display_name)} ({len(msgs)})</h2>{shown}</section>")
    content = (
        f"<h1>{escape(user.email)}</h1>"
        + (f'<p class="notice" role="status">{escape(notice)}</p>' if notice else "")
        + f'<p class="actions"><a href="{escape(_send_url(to=user.email))}">Send an email to this mailbox</a>'
        f'<a href="{escape(_mailbox_url(user.email))}">Refresh</a>'
        '<a href="/_emulator/mail">All mailboxes</a></p>' + "".join(sections)
    )
    return _page(user.email, content)
