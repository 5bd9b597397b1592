"""Pydantic models at the recipes API boundary."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from db.recipes import RecipeRow
from recipes.model import CreateItemAction, EmailReceivedTrigger, RecipeSpec

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RecipeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: uuid.UUID
    name: Name
    enabled: bool = True
    trigger: EmailReceivedTrigger
    action: CreateItemAction


class RecipeUpdate(BaseModel):
    """Only the given fields change; trigger and action are replaced whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    enabled: bool | None = None
    trigger: EmailReceivedTrigger | None = None
    action: CreateItemAction | None = None


class RecipePublic(BaseModel):
    id: uuid.UUID
    connection_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    enabled: bool
    trigger: EmailReceivedTrigger
    action: CreateItemAction
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: RecipeRow) -> RecipePublic:
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
        )


class RecipesPublic(BaseModel):
    data: list[RecipePublic]
    count: int
