"""The facts of one email that recipes match and render: only plain values, built from a Graph message
fetched with $select, so a field that was not requested is simply empty."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from graph.models import Message
from recipes.html_text import html_to_text


class EmailFacts(BaseModel):
    message_id: str = ""
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    received_at: datetime | None = None
    preview: str = ""
    body_text: str = ""
    to: list[str] = Field(default_factory=list)
    conversation_id: str = ""
    # Internet message headers, names lower-cased; a repeated header's values joined by ", ".
    headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_graph(cls, message: Message) -> EmailFacts:
        sender = message.from_.email_address if message.from_ and message.from_.email_address else None
        body = ""
        if message.body is not None and message.body.content:
            is_html = (message.body.content_type or "").lower() == "html"
            body = html_to_text(message.body.content) if is_html else message.body.content
        headers: dict[str, str] = {}
        for header in message.internet_message_headers or []:
            name = header.name.strip().lower()
            headers[name] = f"{headers[name]}, {header.value}" if name in headers else header.value
        return cls(
            message_id=message.id or "",
            subject=message.subject or "",
            from_address=(sender.address or "") if sender else "",
            from_name=(sender.name or "") if sender else "",
            received_at=message.received_date_time,
            preview=message.body_preview or "",
            body_text=body,
            to=[
                r.email_address.address
                for r in message.to_recipients or []
                if r.email_address is not None and r.email_address.address
            ],
            conversation_id=message.conversation_id or "",
            headers=headers,
        )
