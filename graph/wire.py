"""Typed Graph resources. Every field is optional: with `$select` only the requested ones are present,
and `model_fields_set` tells which ones Graph actually sent."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic.alias_generators import to_camel


class GraphModel(BaseModel):
    # Graph's camelCase on the wire, snake_case in Python; unknown fields kept for forward compatibility.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class EmailAddress(GraphModel):
    name: str | None = None
    address: str | None = None


class Recipient(GraphModel):
    email_address: EmailAddress | None = None


class ItemBody(GraphModel):
    content_type: str | None = None
    content: str | None = None


class MessageHeader(GraphModel):
    name: str
    value: str


class Removed(GraphModel):
    reason: str | None = None


class Message(GraphModel):
    id: str | None = None
    subject: str | None = None
    from_: Recipient | None = Field(None, alias="from")
    sender: Recipient | None = None
    to_recipients: list[Recipient] | None = None
    cc_recipients: list[Recipient] | None = None
    reply_to: list[Recipient] | None = None
    received_date_time: datetime | None = None
    body_preview: str | None = None
    body: ItemBody | None = None
    conversation_id: str | None = None
    internet_message_id: str | None = None
    has_attachments: bool | None = None
    importance: str | None = None
    parent_folder_id: str | None = None
    is_read: bool | None = None
    is_draft: bool | None = None
    categories: list[str] | None = None
    internet_message_headers: list[MessageHeader] | None = None
    web_link: str | None = None
    removed: Removed | None = Field(None, alias="@removed")  # delta: the message left the folder


class MailFolder(GraphModel):
    id: str
    display_name: str | None = None
    parent_folder_id: str | None = None
    total_item_count: int | None = None
    unread_item_count: int | None = None


class User(GraphModel):
    id: str | None = None
    display_name: str | None = None
    mail: str | None = None
    user_principal_name: str | None = None

    @property
    def mailbox(self) -> str:
        return self.mail or self.user_principal_name or ""


class Subscription(GraphModel):
    id: str
    resource: str | None = None
    application_id: str | None = None
    change_type: str | None = None
    client_state: SecretStr | None = None  # echoed by Graph; a secret, so never printed
    notification_url: str | None = None
    lifecycle_notification_url: str | None = None
    expiration_date_time: datetime | None = None
    creator_id: str | None = None
    latest_supported_tls_version: str | None = None
    notification_content_type: str | None = None


class DeltaPage(BaseModel):
    """One page of a delta round. Only the last page of a round has `delta_link`."""

    messages: list[Message]
    next_link: str | None = None
    delta_link: str | None = None


_HEADER_NAME = re.compile(r"^[xX]-[A-Za-z0-9-]{1,100}$")


def check_custom_headers(headers: dict[str, str]) -> dict[str, str]:
    # Graph accepts only custom headers on outgoing mail, and they must start with "x-".
    for name in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"header {name!r} must start with 'x-' and use letters, digits, '-'")
    return headers


def graph_headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers.items()]


# RFC 2822 msg-id, the only form Exchange accepts for a client-chosen internetMessageId.
INTERNET_MESSAGE_ID = r"^<[^<>@\s]+@[^<>@\s]+>$"


class OutgoingMessage(BaseModel):
    subject: str
    body: str
    body_type: str = Field("text", pattern="^(text|html)$")
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    # Chosen by the sender so that it can find the mail in Sent Items when sendMail's 202 was lost
    # (Graph answers sendMail with no id of its own).
    internet_message_id: str | None = Field(None, max_length=256, pattern=INTERNET_MESSAGE_ID)

    @field_validator("headers")
    @classmethod
    def _custom_headers_only(cls, value: dict[str, str]) -> dict[str, str]:
        return check_custom_headers(value)

    def to_graph(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "subject": self.subject,
            "body": {"contentType": self.body_type, "content": self.body},
            "toRecipients": [{"emailAddress": {"address": a}} for a in self.to],
        }
        if self.cc:
            message["ccRecipients"] = [{"emailAddress": {"address": a}} for a in self.cc]
        if self.headers:
            message["internetMessageHeaders"] = graph_headers(self.headers)
        if self.internet_message_id:
            message["internetMessageId"] = self.internet_message_id
        return message
