"""The recipe model: a trigger and an action.

Incoming: `email_received` (a folder and conditions) -> `create_item` or `create_update`.
Outgoing: `item_created` or `column_changed` on a built-in or a monday.com board (`source`) -> `send_email`.

It validates everything that does not need the database: condition syntax, the folder, the pairing of
trigger and action, templates against their vocabulary (recipes.templates). Whether the board, its
group and its columns exist, and whether the connection was granted what the recipe needs, is checked
when the recipe is saved (recipes.board_check, api/routes/recipes.py).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from recipes.templates import EMAIL_PLACEHOLDERS, ITEM_PLACEHOLDERS, TemplateError, placeholders

MAX_CONDITIONS = 100
MAX_COLUMNS = 50

# A sender entry: an address or a domain, "*" matching any run of characters ("*@acme.example",
# "billing-*@acme.example", "*@*.acme.example"); at least one "@" and a dot in the domain part.
_SENDER = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Folders no recipe may watch, and why (the service never reads them).
REFUSED_FOLDERS: dict[str, str] = {
    "junkemail": "junk mail is never read: it is where phishing and spam land",
    "deleteditems": "deleted mail is never read: the user threw it away",
    "sentitems": "sent mail is never read: it is the user's own mail, and reading it would loop",
    "drafts": "drafts are never read: they are unfinished and not received mail",
    "outbox": "the outbox is never read: it holds mail waiting to be sent",
}

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Template = Annotated[str, StringConstraints(max_length=2000)]
Importance = Literal["low", "normal", "high"]
Destination = Literal["builtin", "monday"]


class Conditions(BaseModel):
    """All given conditions must hold; within a list any entry may match; an empty list (or None) means
    "any". Every comparison ignores case."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    # Sender address patterns ("a@b.example", "*@b.example", "*" for any run of characters).
    from_: list[str] = Field(default_factory=list, alias="from", max_length=MAX_CONDITIONS)
    # Text that must appear in a To (to_contains) or Cc (cc_contains) recipient's address or name.
    to_contains: list[Word] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    cc_contains: list[Word] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    # Words or phrases that must appear in the subject (or the body's text) as whole words.
    subject_contains: list[Word] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    body_contains: list[Word] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    # Graph's hasAttachments: true only for non-inline attachments.
    has_attachments: bool | None = None
    importance: list[Importance] = Field(default_factory=list, max_length=3)

    @field_validator("from_")
    @classmethod
    def _senders(cls, entries: list[str]) -> list[str]:
        cleaned = []
        for entry in entries:
            value = entry.strip().lower()
            if not _SENDER.fullmatch(value) or value.count("@") != 1:
                raise ValueError(
                    f"{entry!r} is not a sender pattern: write an address (name@domain.example) or a "
                    "pattern with * for any characters (*@domain.example, *@*.domain.example)"
                )
            cleaned.append(value)
        return cleaned


class EmailReceivedTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email_received"] = "email_received"
    # "inbox", or the id of a custom mail folder of the connection's mailbox.
    folder: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = "inbox"
    conditions: Conditions = Field(default_factory=Conditions)

    @field_validator("folder")
    @classmethod
    def _readable_folder(cls, folder: str) -> str:
        why = REFUSED_FOLDERS.get(folder.lower())
        if why is not None:
            raise ValueError(f"folder {folder!r} cannot be watched: {why}")
        return "inbox" if folder.lower() == "inbox" else folder


class ItemCreatedTrigger(BaseModel):
    """An item was created on a board (by a person or by an incoming recipe). `source` says which kind
    of board: built-in (its uuid), or monday.com (its digits; events come through a monday webhook)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["item_created"] = "item_created"
    # Defaults to built-in: recipes stored before monday.com triggers existed stay valid unchanged.
    source: Destination = "builtin"
    board_id: str

    @field_validator("board_id")
    @classmethod
    def _board_id(cls, value: str, info: ValidationInfo) -> str:
        # `source` is declared first, so it is validated (or missing, when invalid) by now.
        return _board_id_for(info.data.get("source", "builtin"), value)


class ColumnChangedTrigger(BaseModel):
    """A column's value changed on an item of a board (built-in or monday.com, as `source` says); with
    `to`, only to that value (case-insensitive)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["column_changed"] = "column_changed"
    source: Destination = "builtin"
    board_id: str
    column: Title
    to: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @field_validator("board_id")
    @classmethod
    def _board_id(cls, value: str, info: ValidationInfo) -> str:
        # `source` is declared first, so it is validated (or missing, when invalid) by now.
        return _board_id_for(info.data.get("source", "builtin"), value)


Trigger = Annotated[
    EmailReceivedTrigger | ItemCreatedTrigger | ColumnChangedTrigger, Field(discriminator="type")
]


def builtin_board_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a board id") from None


def _board_id_for(destination: str, value: str) -> str:
    if destination == "monday":
        if not value.strip().isdigit():
            raise ValueError(f"{value!r} is not a monday.com board id (digits, as in the board's URL)")
        return value.strip()
    return builtin_board_id(value)


def _email_template(template: str, where: str) -> str:
    try:
        placeholders(template, EMAIL_PLACEHOLDERS)
    except TemplateError as err:
        raise ValueError(f"{where}: {err}") from None
    return template


def _item_template(template: str, where: str) -> str:
    try:
        placeholders(template, ITEM_PLACEHOLDERS, columns=True)
    except TemplateError as err:
        raise ValueError(f"{where}: {err}") from None
    return template


class CreateItemAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["create_item"] = "create_item"
    destination: Destination = "builtin"
    # A built-in board's id (uuid), or a monday.com board's id (digits).
    board_id: str
    # The title of a group on the board.
    group: Title
    item_name: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = "{subject}"
    # Column title -> template.
    columns: dict[str, Template] = Field(default_factory=dict, max_length=MAX_COLUMNS)
    # "update": a message of a conversation this recipe already made an item for becomes an update on
    # that item (conversationId, or In-Reply-To/References); "item": every message makes its own item.
    replies: Literal["update", "item"] = "update"
    # The update a reply becomes.
    reply_update: Template = "{body}"
    # The email's file attachments go onto the item (inline images skipped, size capped).
    attachments: bool = False

    @model_validator(mode="after")
    def _valid(self) -> CreateItemAction:
        self.board_id = _board_id_for(self.destination, self.board_id)
        if self.attachments and self.destination == "monday":
            # monday.com takes files through its multipart upload endpoint, which is not built yet.
            raise ValueError(
                "attachments can only go onto built-in boards; monday.com boards do not take them yet"
            )
        _email_template(self.item_name, "item_name")
        _email_template(self.reply_update, "reply_update")
        cleaned: dict[str, str] = {}
        for title, template in self.columns.items():
            if not title.strip():
                raise ValueError("a column title is empty")
            cleaned[title.strip()] = _email_template(template, f"column {title.strip()!r}")
        self.columns = cleaned
        return self


class FindItem(BaseModel):
    """The item an update goes on: the first (oldest) item whose column equals the rendered value,
    ignoring case and surrounding spaces."""

    model_config = ConfigDict(extra="forbid")

    column: Title
    value: Template

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        return _email_template(value, "find.value")


class CreateUpdateAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["create_update"] = "create_update"
    destination: Destination = "builtin"
    board_id: str
    find: FindItem
    body: Template = "{body}"

    @model_validator(mode="after")
    def _valid(self) -> CreateUpdateAction:
        self.board_id = _board_id_for(self.destination, self.board_id)
        _email_template(self.body, "body")
        return self


class SendEmailAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["send_email"] = "send_email"
    # A fixed address, or a template that renders to one or more (comma-separated), e.g. "{column:Email}".
    to: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    body: Template = ""

    @model_validator(mode="after")
    def _valid(self) -> SendEmailAction:
        _item_template(self.to, "to")
        _item_template(self.subject, "subject")
        _item_template(self.body, "body")
        return self


Action = Annotated[CreateItemAction | CreateUpdateAction | SendEmailAction, Field(discriminator="type")]
INCOMING_ACTIONS = ("create_item", "create_update")


class RecipeSpec(BaseModel):
    """What a recipe does: stored as this model's JSON (by alias)."""

    model_config = ConfigDict(extra="forbid")

    trigger: Trigger
    action: Action

    @model_validator(mode="after")
    def _pairing(self) -> RecipeSpec:
        incoming = self.trigger.type == "email_received"
        if incoming and self.action.type not in INCOMING_ACTIONS:
            raise ValueError(
                "an email_received trigger needs a create_item or create_update action, "
                f"not {self.action.type}"
            )
        if not incoming and self.action.type != "send_email":
            raise ValueError(
                f"a {self.trigger.type} trigger needs a send_email action, not {self.action.type}"
            )
        return self

    @property
    def incoming(self) -> bool:
        return self.trigger.type == "email_received"

    def monday_trigger(self) -> ItemCreatedTrigger | ColumnChangedTrigger | None:
        """The trigger when it watches a monday.com board (its events come through a monday webhook)."""
        trigger = self.trigger
        if isinstance(trigger, ItemCreatedTrigger | ColumnChangedTrigger) and trigger.source == "monday":
            return trigger
        return None

    def builtin_board_id(self) -> str | None:
        """The built-in board the recipe writes to or watches (None for a monday.com board)."""
        if isinstance(self.trigger, ItemCreatedTrigger | ColumnChangedTrigger):
            return self.trigger.board_id if self.trigger.source == "builtin" else None
        if (
            isinstance(self.action, CreateItemAction | CreateUpdateAction)
            and self.action.destination == "builtin"
        ):
            return self.action.board_id
        return None


class Recipe(RecipeSpec):
    """A stored recipe as the workflows' activities see it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    connection_id: str
    owner_id: str
    name: str
    enabled: bool = True
