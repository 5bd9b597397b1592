"""Redoing messages: what the API asks of a connection workflow, and what the workflow keeps waiting.

Ids only: a message id and the request id that names the redo (it is part of the redo child's id, so
the same request sent twice starts each message once)."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Ids per `redo_messages` update: the update's payload stays small (500 of Graph's ~150-character ids is
# ~80 KB), and the waiting-ids byte cap still decides whether a batch fits.
MAX_REDO_IDS = 500
# A request id is part of a workflow id: short, and only characters that need no escaping.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class RedoRequest(BaseModel):
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    message_ids: list[str] = Field(min_length=1, max_length=MAX_REDO_IDS)


class RedoEntry(BaseModel):
    """One message waiting to be redone, carried across continue-as-new."""

    request_id: str
    message_id: str


def redo_bytes(entry: RedoEntry) -> int:
    """What an entry costs in the carried state: both ids as JSON, the keys, and a margin."""
    return len(entry.message_id.encode()) + len(entry.request_id.encode()) + 40
