"""Pydantic models at the boards API boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

ColumnType = Literal["text", "long_text", "email", "date", "status", "link"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

MAX_GROUPS = 50
MAX_COLUMNS = 50


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


class BoardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Title
    groups: list[Title] = Field(max_length=MAX_GROUPS)
    columns: list[ColumnCreate] = Field(default_factory=list, max_length=MAX_COLUMNS)

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


class BoardPublic(BaseModel):
    id: uuid.UUID
    name: str
    groups: list[GroupPublic]
    columns: list[ColumnPublic]
    created_at: datetime


class BoardsPublic(BaseModel):
    data: list[BoardPublic]
    count: int


class UpdatePublic(BaseModel):
    id: uuid.UUID
    body: str
    created_at: datetime


class ItemPublic(BaseModel):
    id: uuid.UUID
    name: str
    # The group's title; group_id for clients that track groups by id.
    group: str
    group_id: uuid.UUID
    # Column title -> value (None when the item has no value in that column).
    columns: dict[str, str | None]
    updates: list[UpdatePublic]
    created_at: datetime


class ItemsPublic(BaseModel):
    items: list[ItemPublic]
    count: int
