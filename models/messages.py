"""What the message workflow and its activities exchange: ids and outcomes, never email content.

Until a payload codec encrypts workflow payloads, nothing here may carry a subject, an address or a
body: the activity that writes an item fetches the content itself and keeps it out of the result.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Outcome(StrEnum):
    PROCESSED = "processed"
    SKIPPED = "skipped"
    FAILED = "failed"


class MessageInput(BaseModel):
    connection_id: str
    message_id: str


class MessageResult(BaseModel):
    outcome: Outcome
    reason: str = ""
    items_created: int = 0


class NotifiedMessages(BaseModel):
    """A webhook's batch for one connection: the message ids Graph notified about."""

    message_ids: list[str] = Field(max_length=1000)


class CatchUpRequest(BaseModel):
    connection_id: str
    # At most this many not-yet-processed ids per call; the activity keeps its place in the delta
    # round (in the database) and the workflow calls again until `complete`.
    limit: int = 200
    # The workflow's number for this call: the same number again means the workflow never got that
    # call's result (a retry, or a new attempt after the retries ran out), so the activity starts
    # from where that call started, not from the position it may already have saved. None: older
    # workflows, which do not number their calls.
    call: int | None = None


class CatchUpResult(BaseModel):
    message_ids: list[str] = Field(default_factory=list)
    complete: bool = True


class MessageStarts(BaseModel):
    """A batch of notified messages for which the connection workflow wants message workflows."""

    connection_id: str
    message_ids: list[str] = Field(max_length=1000)


class MessageStartsResult(BaseModel):
    started: int = 0
    # Already had a workflow (a duplicate notification, or a catch-up finding a handled message).
    duplicates: int = 0
