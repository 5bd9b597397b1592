"""The recipe model: a trigger (an email received, with conditions) and an action (create an item).

It validates everything that does not need the database: condition syntax, the folder, templates.
Whether the board, its group and its columns exist is checked against the board (recipes.board_check).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from recipes.templates import TemplateError, placeholders

MAX_CONDITIONS = 100
MAX_COLUMNS = 50

_ADDRESS = re.compile(r"^[^@\s*]+@[^@\s*]+\.[^@\s*]+$")
_DOMAIN_GLOB = re.compile(r"^\*@[^@\s*]+\.[^@\s*]+$")

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Template = Annotated[str, StringConstraints(max_length=2000)]


class Conditions(BaseModel):
    """All given conditions must hold; within a list any entry may match; an empty list means "any"."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    # Sender: an address ("a@b.example") or every address of a domain ("*@b.example"), case-insensitive.
    from_: list[str] = Field(default_factory=list, alias="from", max_length=MAX_CONDITIONS)
    # Words or phrases that must appear in the subject as whole words, case-insensitive.
    subject_contains: list[Word] = Field(default_factory=list, max_length=MAX_CONDITIONS)

    @field_validator("from_")
    @classmethod
    def _senders(cls, entries: list[str]) -> list[str]:
        cleaned = []
        for entry in entries:
            value = entry.strip().lower()
            if not (_ADDRESS.fullmatch(value) or _DOMAIN_GLOB.fullmatch(value)):
                raise ValueError(
                    f"{entry!r} is neither an address (name@domain.example) "
                    "nor a domain glob (*@domain.example)"
                )
            cleaned.append(value)
        return cleaned


class EmailReceivedTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email_received"] = "email_received"
    folder: Literal["inbox"] = "inbox"
    conditions: Conditions = Field(default_factory=Conditions)

    @field_validator("folder", mode="before")
    @classmethod
    def _inbox_only(cls, folder: object) -> object:
        if folder != "inbox":
            raise ValueError(
                f'folder {folder!r} is not supported yet: recipes watch the inbox only (use "inbox")'
            )
        return folder


def _check_template(template: str, where: str) -> str:
    try:
        placeholders(template)
    except TemplateError as err:
        raise ValueError(f"{where}: {err}") from None
    return template


class CreateItemAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["create_item"] = "create_item"
    board_id: str
    # The title of a group on the board.
    group: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    item_name: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = "{subject}"
    # Column title -> template.
    columns: dict[str, Template] = Field(default_factory=dict, max_length=MAX_COLUMNS)

    @field_validator("board_id")
    @classmethod
    def _board_id(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a board id") from None

    @field_validator("item_name")
    @classmethod
    def _item_name(cls, value: str) -> str:
        return _check_template(value, "item_name")

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: dict[str, str]) -> dict[str, str]:
        cleaned: dict[str, str] = {}
        for title, template in columns.items():
            if not title.strip():
                raise ValueError("a column title is empty")
            cleaned[title.strip()] = _check_template(template, f"column {title.strip()!r}")
        return cleaned


class RecipeSpec(BaseModel):
    """What a recipe does: stored as this model's JSON (by alias)."""

    model_config = ConfigDict(extra="forbid")

    trigger: EmailReceivedTrigger
    action: CreateItemAction


class Recipe(RecipeSpec):
    """A stored recipe as the message workflow's activities see it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    connection_id: str
    owner_id: str
    name: str
    enabled: bool = True
