"""A Graph message as the plain facts recipes match and render (payloads.email.EmailFacts)."""

from __future__ import annotations

from graph.wire import Message, Recipient
from payloads.email import EmailFacts
from recipes.html_text import html_to_text

__all__ = ["BODY_TEXT_MAX", "EmailFacts", "facts_from_graph"]

# The body's text travels through Temporal (encrypted) between the steps; a payload must stay well under
# Temporal's 2 MB, and a board column holds 10,000 characters (recipes.render.VALUE_MAX) anyway.
BODY_TEXT_MAX = 100_000


def _addresses(recipients: list[Recipient] | None) -> list[str]:
    return [
        r.email_address.address
        for r in recipients or []
        if r.email_address is not None and r.email_address.address
    ]


def _names(recipients: list[Recipient] | None) -> list[str]:
    return [
        r.email_address.name for r in recipients or [] if r.email_address is not None and r.email_address.name
    ]


def facts_from_graph(message: Message) -> EmailFacts:
    sender = message.from_.email_address if message.from_ and message.from_.email_address else None
    body = ""
    if message.body is not None and message.body.content:
        is_html = (message.body.content_type or "").lower() == "html"
        body = html_to_text(message.body.content) if is_html else message.body.content
    headers: dict[str, str] = {}
    for header in message.internet_message_headers or []:
        name = header.name.strip().lower()
        headers[name] = f"{headers[name]}, {header.value}" if name in headers else header.value
    return EmailFacts(
        message_id=message.id or "",
        subject=message.subject or "",
        from_address=(sender.address or "") if sender else "",
        from_name=(sender.name or "") if sender else "",
        received_at=message.received_date_time,
        preview=message.body_preview or "",
        body_text=body[:BODY_TEXT_MAX],
        to=_addresses(message.to_recipients),
        to_names=_names(message.to_recipients),
        cc=_addresses(message.cc_recipients),
        cc_names=_names(message.cc_recipients),
        conversation_id=message.conversation_id or "",
        headers=headers,
        has_attachments=message.has_attachments,
        importance=(message.importance or "").lower(),
        internet_message_id=message.internet_message_id or "",
        web_link=message.web_link or "",
    )
