"""Request bodies of the control API."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, field_validator

_M = TypeVar("_M", bound=BaseModel)


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field("", max_length=256)


class AddressIn(BaseModel):
    name: str = ""
    address: str = Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$")


def _address(value: Any) -> Any:
    if isinstance(value, str):
        name, addr = email.utils.parseaddr(value)
        return {"name": name, "address": addr or value}
    return value


class AttachmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = "application/octet-stream"
    content_base64: str = ""
    content: str | None = None  # plain text convenience, encoded for you
    is_inline: bool = False


class DeliverIn(BaseModel):
    folder: str = "inbox"
    from_: AddressIn = Field(alias="from")
    to: list[AddressIn] = Field(default_factory=list)
    cc: list[AddressIn] = Field(default_factory=list)
    bcc: list[AddressIn] = Field(default_factory=list)
    reply_to: list[AddressIn] = Field(default_factory=list)
    subject: str = Field("", max_length=1000)
    body: str = Field("", max_length=5_000_000)
    body_type: Literal["html", "text"] = "text"
    importance: Literal["low", "normal", "high"] = "normal"
    attachments: list[AttachmentIn] = Field(default_factory=list)
    conversation_id: str | None = None
    in_reply_to: str | None = None
    internet_message_id: str | None = None
    headers: dict[str, str] | list[dict[str, str]] = Field(default_factory=dict)
    received: dt.datetime | None = None
    is_read: bool = False
    categories: list[str] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    @field_validator("from_", mode="before")
    @classmethod
    def _from(cls, v: Any) -> Any:
        return _address(v)

    @field_validator("to", "cc", "bcc", "reply_to", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        if isinstance(v, (str, dict)):
            v = [v]
        return [_address(x) for x in v] if isinstance(v, list) else v


class MoveIn(BaseModel):
    folder: str = Field(min_length=1)


class UpdateIn(BaseModel):
    is_read: bool | None = None
    subject: str | None = None
    categories: list[str] | None = None
    importance: Literal["low", "normal", "high"] | None = None


class RevokeIn(BaseModel):
    reason: Literal["consent_revoked", "admin_reset", "inactive", "mfa_required"]


class ConsentIn(BaseModel):
    email: str | None = Field(None, max_length=320)
    scopes: list[str] | None = None
    deny: bool = False
    client_id: str | None = Field(None, max_length=200)


class FolderIn(BaseModel):
    display_name: str = Field(min_length=1, max_length=255)
    parent: str | None = None


def parse(model: type[_M], raw: Any) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None
