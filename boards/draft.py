"""What a recipe wants written on a board: produced by recipes.render, consumed by a board store."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ItemDraft(BaseModel):
    name: str
    # The group's title on the board.
    group: str
    # Column title -> rendered text.
    columns: dict[str, str] = Field(default_factory=dict)
