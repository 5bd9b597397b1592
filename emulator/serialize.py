"""Graph JSON for users, folders and messages."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from emulator.models import Folder, Message, User
from emulator.store import Store

_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\s*/?>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_STYLE = re.compile(r"<(style|script|head)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso7(ts: float, zulu: bool = True) -> str:
    """Graph's 7-digit fractional form: 2026-11-30T05:00:00.1234567Z (or +00:00)."""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}0" + ("Z" if zulu else "+00:00")


def html_to_text(content: str) -> str:
    text = _STYLE.sub("", content)
    text = _BLOCK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def text_to_html(content: str) -> str:
    escaped = html.escape(content).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n'
        f'<body>\r\n<div dir="ltr">{escaped}</div>\r\n</body>\r\n</html>\r\n'
    )


def body_preview(msg: Message) -> str:
    text = html_to_text(msg.body) if msg.body_type == "html" else msg.body
    return _SPACE.sub(" ", text).strip()[:255]


def _address(name: str, address: str) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def user_json(user: User) -> dict[str, Any]:
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.display_name.split(" ")[0],
        "jobTitle": None,
        "mail": user.email,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": user.display_name.split(" ")[-1] if " " in user.display_name else None,
        "userPrincipalName": user.email,
        "id": user.id,
    }


def folder_json(store: Store, user: User, folder: Folder) -> dict[str, Any]:
    msgs = [m for m in user.messages.values() if m.folder_id == folder.id]
    return {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": folder.parent_id or folder.id,
        "childFolderCount": sum(1 for f in user.folders.values() if f.parent_id == folder.id),
        "unreadItemCount": sum(1 for m in msgs if not m.is_read),
        "totalItemCount": len(msgs),
        "sizeInBytes": sum(len(m.body) for m in msgs),
        "isHidden": folder.hidden,
    }


def message_id(msg: Message, immutable: bool) -> str:
    return msg.immutable_id if immutable else msg.rest_id


def message_json(
    msg: Message,
    user: User,
    select: list[str] | None,
    immutable: bool,
    text_body: bool,
    bodies: bool = True,
) -> dict[str, Any]:
    """`select` None is the default field set (no internetMessageHeaders); bodies False is Mail.ReadBasic."""
    mid = message_id(msg, immutable)
    sender = _address(msg.from_name, msg.from_address)
    if text_body:
        body = {
            "contentType": "text",
            "content": html_to_text(msg.body) if msg.body_type == "html" else msg.body,
        }
    else:
        body = {
            "contentType": "html",
            "content": msg.body if msg.body_type == "html" else text_to_html(msg.body),
        }
    fields: dict[str, Any] = {
        "@odata.etag": f'W/"{msg.change_key}"',
        "id": mid,
        "createdDateTime": iso(msg.created),
        "lastModifiedDateTime": iso(msg.modified),
        "changeKey": msg.change_key,
        "categories": list(msg.categories),
        "receivedDateTime": iso(msg.received),
        "sentDateTime": iso(msg.sent),
        "hasAttachments": any(not a.is_inline for a in msg.attachments),
        "internetMessageId": msg.internet_message_id,
        "subject": msg.subject,
        "bodyPreview": body_preview(msg),
        "importance": msg.importance,
        "parentFolderId": msg.folder_id,
        "conversationId": msg.conversation_id,
        "conversationIndex": msg.conversation_index,  # Edm.Binary: base64 of the binary index
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": msg.is_read,
        "isDraft": msg.is_draft,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={mid}&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": body,
        "uniqueBody": body,
        "sender": sender,
        "from": sender,
        "toRecipients": [_address(n, a) for n, a in msg.to],
        "ccRecipients": [_address(n, a) for n, a in msg.cc],
        "bccRecipients": [_address(n, a) for n, a in msg.bcc],
        "replyTo": [_address(n, a) for n, a in msg.reply_to],
        "flag": {"flagStatus": "notFlagged"},
    }
    if select is None:
        fields.pop("uniqueBody")
        out = fields
    else:
        out = {"@odata.etag": fields["@odata.etag"], "id": mid}
        for name in select:
            if name == "internetMessageHeaders":
                out[name] = [{"name": k, "value": v} for k, v in msg.headers]
            else:
                out[name] = fields[name]
    if not bodies:
        for name in ("body", "bodyPreview", "uniqueBody"):
            out.pop(name, None)
    return out
