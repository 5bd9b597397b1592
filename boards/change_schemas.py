"""Pydantic models of PATCH /api/boards/{id}: the changes one request may hold, and the answer.

Changes are a list applied in order (so "rename New to Inbox, then add a group New" works), all or
nothing. Groups and columns are named by their title (exact, else ignoring case, as the writers match).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from boards.schemas import MAX_LABELS, BoardPublic, ColumnCreate, Title, Visibility

MAX_CHANGES = 100


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddGroup(_Change):
    op: Literal["add_group"]
    title: Title


class RenameGroup(_Change):
    op: Literal["rename_group"]
    group: Title
    title: Title


class RemoveGroup(_Change):
    """A group that has items is only removed with move_items_to (a group the board has after the
    request); otherwise 409 names how many items it holds. Items are never deleted by a board change."""

    op: Literal["remove_group"]
    group: Title
    move_items_to: Title | None = None


class AddColumn(_Change, ColumnCreate):
    op: Literal["add_column"]


class RenameColumn(_Change):
    op: Literal["rename_column"]
    column: Title
    title: Title


class RemoveColumn(_Change):
    """The column's values go with it (they are no longer shown anywhere); the items stay."""

    op: Literal["remove_column"]
    column: Title


class SetLabels(_Change):
    """A status column's labels, replaced whole, in the order the board shows them. Items holding a label
    the new list leaves out: 409, unless `relabel` maps it to a new label (or to null: cleared)."""

    op: Literal["set_labels"]
    column: Title
    labels: list[Title] = Field(min_length=1, max_length=MAX_LABELS)
    relabel: dict[Title, Title | None] = Field(default_factory=dict, max_length=MAX_LABELS)


BoardChangeOp = Annotated[
    AddGroup | RenameGroup | RemoveGroup | AddColumn | RenameColumn | RemoveColumn | SetLabels,
    Field(discriminator="op"),
]


class BoardChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The board's new name; left out: unchanged.
    name: Title | None = None
    # "private" (its owner only) or "account" (every member); left out: unchanged.
    visibility: Visibility | None = None
    changes: list[BoardChangeOp] = Field(default_factory=list, max_length=MAX_CHANGES)


class AffectedRecipe(BaseModel):
    """A recipe of the board that no longer fits it after the change: it fails until it is edited."""

    id: uuid.UUID
    name: str
    problems: list[str]


class BoardChangedPublic(BoardPublic):
    # The caller's own recipes that no longer fit; other members' recipes are only counted.
    affected_recipes: list[AffectedRecipe] = Field(default_factory=list)
    other_members_affected_recipes: int = 0
