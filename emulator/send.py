"""`POST /me/sendMail` and `POST /me/messages/{id}/reply`: 202, no body; Mail.Send required.

sendMail honours a client-chosen `message.internetMessageId` as Exchange Online does: the value must be
an RFC 2822 msg-id (`<local@domain>`), else 400; the sent mail, its Sent Items copy and every delivered
copy carry it (as `internetMessageId` and the `Message-ID` header), so a client that lost the 202 can
find its mail in Sent Items with `$filter=internetMessageId eq '<...>'`. Graph does not deduplicate: the
same id sent twice is two emails, which is why the service keeps its own ledger (db/outgoing_sends.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi.responses import Response

from emulator import ids
from emulator.delivery import send, standard_headers
from emulator.errors import GraphError
from emulator.graph import GraphReq, route
from emulator.mail import message_or_404
from emulator.serialize import html_to_text, text_to_html

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
# RFC 2822 3.6.4 msg-id, as Exchange checks it: angle brackets around id-left "@" id-right, no spaces.
_MSG_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
MAX_MSG_ID = 256
MAX_CUSTOM_HEADERS = 5


def _recipients(value: Any, field: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraphError(400, "ErrorInvalidRequest", f"{field} must be a collection of recipients.")
    out: list[tuple[str, str]] = []
    for item in value:
        addr = item.get("emailAddress") if isinstance(item, dict) else None
        address = addr.get("address") if isinstance(addr, dict) else None
        if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient is not valid., Recipient '"
                f"{address}' is not resolved. All recipients must be resolved before a message "
                "can be submitted.",
            )
        name = addr.get("name") if isinstance(addr, dict) else None
        out.append((name if isinstance(name, str) else "", address.strip()))
    return out


def _body(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("content", ""), str):
        raise GraphError(400, "ErrorInvalidRequest", "body must be an itemBody with contentType and content.")
    ctype = str(value.get("contentType", "text")).lower()
    if ctype not in ("text", "html"):
        raise GraphError(400, "ErrorInvalidRequest", f"Invalid contentType '{value.get('contentType')}'.")
    return str(value.get("content", "")), ctype


def _custom_headers(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise GraphError(400, "ErrorInvalidRequest", "internetMessageHeaders must be a collection.")
    out: list[tuple[str, str]] = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        val = item.get("value") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(val, str):
            raise GraphError(
                400, "ErrorInvalidRequest", "Each internetMessageHeader needs a name and a value."
            )
        if not name.lower().startswith("x-"):
            raise GraphError(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
            )
        out.append((name, val))
    if len(out) > MAX_CUSTOM_HEADERS:
        raise GraphError(
            400,
            "InvalidInternetMessageHeaderCollection",
            "Maximum number of headers in one message should be less than or equal to 5.",
        )
    return out


def _internet_message_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_MSG_ID or not _MSG_ID.match(value):
        # Graph answers 400 for a malformed id (the mail is not sent); clients branch on the status.
        raise GraphError(
            400,
            "ErrorInvalidProperty",
            "The value of the property 'internetMessageId' is invalid: it must be in the RFC 2822 "
            "format '<local@domain>'.",
        )
    return value


def _fields(
    req: GraphReq,
    subject: str,
    content: str,
    ctype: str,
    to: list[tuple[str, str]],
    cc: list[tuple[str, str]],
    bcc: list[tuple[str, str]],
    custom: list[tuple[str, str]],
    importance: str,
    conversation_id: str,
    in_reply_to: str | None,
    references: str | None,
    internet_message_id: str | None = None,
) -> dict[str, Any]:
    now = float(int(time.time()))
    domain = req.user.email.split("@")[-1]
    imid = internet_message_id or f"<{ids.guid()}@{domain}>"
    sender = (req.user.display_name, req.user.email)
    headers = standard_headers(sender, to, cc, subject, imid, in_reply_to, references, ctype, now, custom)
    return {
        "subject": subject,
        "body": content,
        "body_type": ctype,
        "from_name": sender[0],
        "from_address": sender[1],
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "importance": importance,
        "conversation_id": conversation_id,
        "internet_message_id": imid,
        "headers": headers,
        "received": now,
        "sent": now,
    }


@route("POST", "me/sendmail")
async def send_mail(req: GraphReq) -> Response:
    req.require("Mail.Send")
    body = await req.json_body()
    message = body.get("message")
    if not isinstance(message, dict):
        raise GraphError(400, "ErrorInvalidRequest", "The message parameter is required.")
    to = _recipients(message.get("toRecipients"), "toRecipients")
    cc = _recipients(message.get("ccRecipients"), "ccRecipients")
    bcc = _recipients(message.get("bccRecipients"), "bccRecipients")
    if not (to or cc or bcc):
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid., A message can't "
            "be sent because it contains no recipients.",
        )
    content, ctype = _body(message.get("body")) or ("", "text")
    custom = _custom_headers(message.get("internetMessageHeaders"))
    imid = _internet_message_id(message.get("internetMessageId"))
    subject = message.get("subject") or ""
    if not isinstance(subject, str):
        raise GraphError(400, "ErrorInvalidRequest", "subject must be a string.")
    importance = str(message.get("importance", "normal")).lower()
    if importance not in ("low", "normal", "high"):
        raise GraphError(400, "ErrorInvalidRequest", "importance must be low, normal or high.")
    save = body.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise GraphError(400, "ErrorInvalidRequest", "saveToSentItems must be a boolean.")
    fields = _fields(req, subject, content, ctype, to, cc, bcc, custom, importance, "", None, None, imid)
    fields["conversation_id"] = "AAQkAGI2" + ids.opaque("", 24)
    send(req.ctx.store, req.user, "sendMail", fields, save, body)
    delay = req.ctx.store.faults.send_answer_delay_ms
    if delay:
        # The mail is sent, stored and delivered, but the 202 comes late: the client's call times out
        # (or its process dies) without knowing. Microsoft documents this: a sendMail whose response
        # is lost may or may not have been sent, and it gives no id to ask about it.
        await asyncio.sleep(delay / 1000)
    return Response(status_code=202)


@route("POST", "me/messages/*/reply")
async def reply(req: GraphReq) -> Response:
    req.require("Mail.Send")
    original = message_or_404(req, req.segments[1])
    body = await req.json_body()
    comment = body.get("comment")
    message = body.get("message") or {}
    if not isinstance(message, dict) or (comment is not None and not isinstance(comment, str)):
        raise GraphError(400, "ErrorInvalidRequest", "comment must be a string and message an object.")
    msg_body = _body(message.get("body"))
    if comment is not None and msg_body is not None:
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            "The 'comment' and the 'body' property of the 'message' parameter cannot both be specified.",
        )
    to = _recipients(message.get("toRecipients"), "toRecipients") or (
        list(original.reply_to) or [(original.from_name, original.from_address)]
    )
    cc = _recipients(message.get("ccRecipients"), "ccRecipients")
    custom = _custom_headers(message.get("internetMessageHeaders"))
    subject = original.subject if original.subject.lower().startswith("re:") else f"RE: {original.subject}"
    if msg_body is not None:
        content, ctype = msg_body
    else:
        content, ctype = comment or "", "text"
    quoted = original.body if original.body_type == "html" else text_to_html(original.body)
    head = content if ctype == "html" else text_to_html(content)
    full = (
        f"{head}<hr><div><b>From:</b> {original.from_address}<br><b>Subject:</b> {original.subject}"
        f"</div>{quoted}"
    )
    refs = next((v for k, v in original.headers if k.lower() == "references"), "")
    references = f"{refs} {original.internet_message_id}".strip()
    fields = _fields(
        req,
        subject,
        full,
        "html",
        to,
        cc,
        [],
        custom,
        "normal",
        original.conversation_id,
        original.internet_message_id,
        references,
    )
    record = {**body, "replyTo": original.immutable_id, "preview": html_to_text(head)[:255]}
    send(req.ctx.store, req.user, "reply", fields, True, record)
    return Response(status_code=202)
