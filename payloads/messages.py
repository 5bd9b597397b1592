"""What the message workflow and its activities exchange.

Ids, outcomes and reasons, except `EmailFacts` (payloads.email): the fetch step's result and the match and
item steps' input carry the email's fields, which only ever reach Temporal encrypted by the payload
codec (codec/). Reasons are fixed phrases and names from the user's recipes, never email content.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from payloads.email import EmailFacts


class Outcome(StrEnum):
    PROCESSED = "processed"
    SKIPPED = "skipped"
    FAILED = "failed"


class MessageInput(BaseModel):
    connection_id: str
    message_id: str
    # Set by connection workflows that start messages as children: the message runs its steps as
    # separate activities. Deciding by the input (fixed in the history) instead of workflow.patched
    # spares every message a patch marker and a search-attribute upsert (2 of ~12 events and a
    # visibility write, measured in bench/README.md); inputs without it fall back to the patch.
    run_steps: bool = False


class RecipeOutcome(BaseModel):
    """What one recipe did with the message, for the activity log's details: names and fixed phrases
    only, never email content."""

    recipe_id: str
    recipe: str = ""
    # "item" / "update" (made, or already made by an earlier attempt), "attached", "missed" (a condition
    # failed: `reason` names it), "no item" (create_update found no item to update), "failed".
    result: str
    reason: str = ""
    # Template placeholders that rendered empty (e.g. "from.name").
    missing: list[str] = Field(default_factory=list)


class MessageResult(BaseModel):
    outcome: Outcome
    reason: str = ""
    items_created: int = 0
    recipes: list[RecipeOutcome] = Field(default_factory=list)


class FolderCheck(BaseModel):
    """Step 1: is the message in a folder this service may read? Decided on parentFolderId alone."""

    allowed: bool
    # Why not, when not allowed: "folder", or "message no longer exists".
    reason: str = ""
    # The message's parentFolderId: only the recipes watching that folder are matched. Empty in
    # histories recorded before recipes chose folders (every recipe watched the inbox).
    folder_id: str = ""


class FetchedMessage(BaseModel):
    """Step 2: the fields the connection's enabled recipes need, fetched with $select."""

    # None when there is nothing to fetch for (no recipe) or the message is gone; `reason` says which.
    email: EmailFacts | None = None
    # The recipes the fetch was made for: the match considers these only, so a recipe added meanwhile
    # (which may need a field that was not fetched) waits for the next message.
    recipe_ids: list[str] = Field(default_factory=list)
    reason: str = ""


class MatchRequest(BaseModel):
    connection_id: str
    email: EmailFacts
    recipe_ids: list[str]
    # FolderCheck.folder_id: recipes watching another folder are not considered ("" considers all).
    folder_id: str = ""


class RecipeMiss(BaseModel):
    recipe_name: str
    recipe_id: str = ""
    # The first condition the email failed, by name ("from", "subject_contains").
    condition: str


class MatchResult(BaseModel):
    """Step 3: which recipes match; for each that does not, the first condition that failed."""

    matched: list[str] = Field(default_factory=list)
    # The matched recipes whose action is create_update (the others create items). Absent from
    # histories recorded before updates existed: every matched recipe then created an item.
    updates: list[str] = Field(default_factory=list)
    missed: list[RecipeMiss] = Field(default_factory=list)
    # Set when no recipe may act on this email at all (this service's own mail, an automatic reply).
    skip_reason: str = ""

    def reason(self) -> str:
        """For the activity log when nothing matched: each recipe and the condition it failed."""
        if self.skip_reason:
            return self.skip_reason
        misses = "; ".join(f"{m.recipe_name!r}: {m.condition}" for m in self.missed)
        return f"no recipe matched ({misses})" if misses else "no recipe matched"


class ItemRequest(BaseModel):
    """Step 4, once per matched recipe: the item it makes of the email (once, by its ledger)."""

    connection_id: str
    message_id: str
    recipe_id: str
    email: EmailFacts


class ItemResult(BaseModel):
    # The item made or updated; "" when a create_update recipe found no item to update.
    item_id: str
    # False when the recipe had already made its item of this message (a retry, a crash, a replay).
    created: bool
    # "item": a new item; "update": an update on an item (a reply in a conversation the recipe already
    # made an item for, or a create_update recipe).
    kind: str = "item"
    recipe_name: str = ""
    missing: list[str] = Field(default_factory=list)
    # The recipe wants the email's attachments on the item: the attach_files step follows.
    attach: bool = False
    # Why nothing was written (create_update without a matching item).
    reason: str = ""


class AttachRequest(BaseModel):
    """Step 5, for recipes with "attachments": true: the email's files onto the item. The bytes go from
    Graph to the board inside the activity, never through Temporal."""

    connection_id: str
    message_id: str
    recipe_id: str
    item_id: str


class AttachResult(BaseModel):
    added: int = 0
    # Inline images, and files over the size cap (by count; names are not logged).
    skipped: int = 0


class OutcomeRecord(BaseModel):
    """The message's outcome for the activity log, written once after the last step."""

    connection_id: str
    message_id: str
    result: MessageResult


def id_bytes(message_id: str) -> int:
    """What a message id costs in a workflow's carried state or an update's payload: its JSON string,
    the separator, and a margin (the caps in ConnectionTiming and webhooks/coalesce.py count this)."""
    return len(message_id.encode()) + 4


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


# The ApplicationError type of an item step whose recipe no longer fits its board (a deleted group or
# column) or no longer exists: retrying cannot help, the recipe is reported as failed.
RECIPE_BROKEN = "RecipeBroken"
