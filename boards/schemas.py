"""Pydantic models at the boards API boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Visibility = Literal["private", "account"]
ColumnType = Literal["text", "long_text", "email", "date", "status", "number", "link"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
# Bounds what a request may carry; each column type then says its own limit (boards.values).
RawValue = Annotated[str, StringConstraints(max_length=100_000)]

MAX_GROUPS = 50
MAX_COLUMNS = 50
MAX_LABELS = 50
UPDATE_BODY_MAX = 10_000


def _no_duplicates(titles: list[str], what: str) -> None:
    # Titles key the item's columns in the API and recipes' templates: "From" and "from" would be ambiguous.
    seen: set[str] = set()
    for title in titles:
        key = title.casefold()
        if key in seen:
            raise ValueError(f"duplicate {what} title {title!r} (titles must differ, ignoring case)")
        seen.add(key)


class ColumnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    type: ColumnType
    # A status column's labels, in the order a board shows them; only status columns have labels.
    labels: list[Title] = Field(default_factory=list, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _labels(self) -> ColumnCreate:
        if self.type == "status":
            if not self.labels:
                raise ValueError(
                    f"status column {self.title!r} needs labels, "
                    'e.g. "labels": ["New", "Working on it", "Done"]'
                )
            _no_duplicates(self.labels, "label")
        elif self.labels:
            raise ValueError(f"only status columns have labels; column {self.title!r} is {self.type}")
        return self


class BoardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Title
    groups: list[Title] = Field(max_length=MAX_GROUPS)
    columns: list[ColumnCreate] = Field(default_factory=list, max_length=MAX_COLUMNS)
    # "private": only its owner (who makes it) sees it; "account": every member of the account.
    visibility: Visibility = "private"

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: list[str]) -> list[str]:
        if not groups:
            raise ValueError('a board needs at least one group, e.g. ["New"]')
        _no_duplicates(groups, "group")
        return groups

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: list[ColumnCreate]) -> list[ColumnCreate]:
        _no_duplicates([c.title for c in columns], "column")
        return columns


class GroupPublic(BaseModel):
    id: uuid.UUID
    title: str


class ColumnPublic(BaseModel):
    id: uuid.UUID
    title: str
    type: ColumnType
    # A status column's labels; empty for the other types.
    labels: list[str] = Field(default_factory=list)


class BoardPublic(BaseModel):
    id: uuid.UUID
    name: str
    groups: list[GroupPublic]
    columns: list[ColumnPublic]
    created_at: datetime
    visibility: Visibility = "private"
    # None for a board made before boards had owners, or whose owner was deleted.
    owner_id: uuid.UUID | None = None


class BoardsPublic(BaseModel):
    data: list[BoardPublic]
    count: int


class UpdatePublic(BaseModel):
    id: uuid.UUID
    body: str
    created_at: datetime


class FilePublic(BaseModel):
    id: uuid.UUID
    name: str
    content_type: str
    size: int


class ItemPublic(BaseModel):
    id: uuid.UUID
    name: str
    # The group's title; group_id for clients that track groups by id.
    group: str
    group_id: uuid.UUID
    # Column title -> value (None when the item has no value in that column).
    columns: dict[str, str | None]
    # Oldest first (newest last).
    updates: list[UpdatePublic]
    files: list[FilePublic] = Field(default_factory=list)
    created_at: datetime


class ItemsPublic(BaseModel):
    items: list[ItemPublic]
    count: int


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: ItemName
    # The group's title; the board's first group when left out.
    group: Title | None = None
    # Column title -> value, checked against the column's type (boards.values).
    columns: dict[Title, RawValue | None] = Field(default_factory=dict, max_length=MAX_COLUMNS)


class ItemChange(BaseModel):
    """PATCH /api/items/{id}: only what is given changes; a column set to null or "" is cleared."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: ItemName | None = None
    group: Title | None = None
    columns: dict[Title, RawValue | None] = Field(default_factory=dict, max_length=MAX_COLUMNS)


class UpdateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # HTML is sanitised before it is stored (boards.sanitise).
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=UPDATE_BODY_MAX)]
