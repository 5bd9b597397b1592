"""What monday.com POSTs to a webhook URL, as typed models: the {"challenge"} handshake, or an event
({"event": {...}}) of which only the fields outgoing recipes use are read (others are ignored, since
monday.com adds fields over time). Pure: the webhook route validates with these and stores the result.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# monday.com's event types (the payload's `type`) and the board event kind each becomes.
KINDS = {"create_pulse": "item_created", "update_column_value": "column_changed"}
MAX_VALUE = 2000


class MondayEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    type: str = Field(max_length=60)
    board_id: int | str = Field(alias="boardId")
    item_id: int | str = Field(alias="pulseId")
    column_id: str | None = Field(None, alias="columnId", max_length=100)
    column_title: str | None = Field(None, alias="columnTitle", max_length=200)
    value: Any = None
    previous_value: Any = Field(None, alias="previousValue")
    trigger_uuid: str | None = Field(None, alias="triggerUuid", max_length=64)


class MondayDelivery(BaseModel):
    """A POST from monday.com: exactly one of challenge and event."""

    model_config = ConfigDict(extra="ignore")

    challenge: str | None = Field(None, max_length=1024)
    event: MondayEvent | None = None


def value_text(value: Any) -> str | None:
    """The text a person sees for a webhook's value: a status's label, an email's address, a text's
    text; None for no value."""
    if value is None:
        return None
    if isinstance(value, dict):
        label = value.get("label")
        if isinstance(label, dict) and label.get("text") is not None:
            return str(label["text"])[:MAX_VALUE]
        for key in ("text", "email", "value", "url", "date"):
            found = value.get(key)
            if isinstance(found, str | int | float) and not isinstance(found, bool):
                return str(found)[:MAX_VALUE]
        return None
    if isinstance(value, str | int | float):
        return str(value)[:MAX_VALUE]
    return None


def digits(value: int | str) -> str | None:
    text = str(value).strip()
    return text if text.isdigit() and len(text) <= 32 else None
