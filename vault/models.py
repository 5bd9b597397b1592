"""What the token store keeps per connection."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoredTokens(BaseModel):
    """One connection's OAuth tokens and the account they belong to.

    `obtained_at` is when the identity platform issued this token set; it decides which of two concurrent
    refreshes is the newest, because refresh tokens rotate and only the newest must survive.
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime
    display_name: str = ""
    mailbox: str = ""
    scopes: list[str] = Field(default_factory=list)
    obtained_at: datetime = Field(default_factory=_utcnow)

    @field_validator("expires_at", "obtained_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        # A naive datetime would compare wrongly against the aware ones everywhere else.
        if value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value.astimezone(UTC)
