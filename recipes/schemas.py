"""Pydantic models at the recipes API boundary."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from db.recipes import RecipeRow
from recipes.model import Action, RecipeSpec, Trigger

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DRY_RUN_MAX = 50


class RecipeCreate(RecipeSpec):
    """A recipe of any kind: the trigger and action must pair (email_received -> create_item or
    create_update; item_created or column_changed -> send_email)."""

    model_config = ConfigDict(extra="forbid")

    connection_id: uuid.UUID
    name: Name
    enabled: bool = True

    def spec(self) -> RecipeSpec:
        return RecipeSpec(trigger=self.trigger, action=self.action)


class RecipeUpdate(BaseModel):
    """Only the given fields change; trigger and action are replaced whole (and must still pair)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    enabled: bool | None = None
    trigger: Trigger | None = None
    action: Action | None = None


class NeedsAttention(BaseModel):
    """Why a recipe does not work: it no longer fits its board, or its latest result in the activity
    log failed (recipes/attention.py). `since`: when its current run of failures began."""

    reason: str
    since: datetime


class RecipePublic(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    enabled: bool
    trigger: Trigger
    action: Action
    created_at: datetime
    updated_at: datetime
    # null when the recipe fits its board and its latest result did not fail.
    needs_attention: NeedsAttention | None = None

    @classmethod
    def of(cls, row: RecipeRow, attention: NeedsAttention | None = None) -> RecipePublic:
        spec = RecipeSpec.model_validate(json.loads(row.definition))
        return cls(
            id=row.id,
            connection_id=row.connection_id,
            owner_id=row.owner_id,
            name=row.name,
            enabled=row.enabled,
            trigger=spec.trigger,
            action=spec.action,
            created_at=row.created_at,
            updated_at=row.updated_at,
            needs_attention=attention,
        )


class RecipesPublic(BaseModel):
    data: list[RecipePublic]
    count: int


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=DRY_RUN_MAX)


class DryRunResult(BaseModel):
    """What the recipe would do with one message. The subject is the user's own mail, shown to them
    only: never logged."""

    message_id: str
    subject: str
    matched: bool
    # Why not: the condition that failed; or what kept a matching message from being written.
    reason: str | None = None
    # What it would make: {"kind": "item", "name", "group", "columns"} or {"kind": "update", ...}.
    would_create: dict[str, object] | None = None


class DryRunPublic(BaseModel):
    data: list[DryRunResult]
    count: int


class FolderPublic(BaseModel):
    id: str
    display_name: str


class FoldersPublic(BaseModel):
    data: list[FolderPublic]
    count: int
