"""Pydantic models at the accounts boundary: what the API accepts and shows (never a hash)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

RoleName = Literal["admin", "member"]

# Deliberately loose: one @ with something on each side and no spaces. Mail servers are the real judge.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    display_name: str = Field(min_length=1, max_length=200)
    role: RoleName = "member"


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    email: str
    display_name: str
    role: RoleName
    created_at: datetime


class UsersPublic(BaseModel):
    data: list[UserPublic]
    count: int


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    # None: valid until revoked.
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class TokenIssued(BaseModel):
    """The one response that carries a plain token: right after it is issued."""

    id: uuid.UUID
    name: str
    token: str
    created_at: datetime
    expires_at: datetime | None = None
