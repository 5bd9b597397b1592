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


# The message workflow starts a failure's reason with this when its grant was dead (revoked, expired,
# no tokens): catch-up after a reconnect redoes exactly those.
DEAD_GRANT_PREFIX = "grant revoked: "


class RedoCandidatesRequest(BaseModel):
    connection_id: str
    # After a reconnect: also the messages that failed because the grant was dead.
    dead_grants: bool = False
    # At most this many ids (the workflow passes what fits under its byte cap).
    limit: int = Field(default=200, ge=0, le=MAX_REDO_IDS)


class RedoCandidates(BaseModel):
    """Messages catch-up redoes: failed for a dead grant, or whose workflow closed without an outcome."""

    message_ids: list[str] = Field(default_factory=list)
    # False when dead-grant failures were left for the next catch-up (the limit was reached).
    dead_grants_done: bool = True
