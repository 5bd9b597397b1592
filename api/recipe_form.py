"""The recipe pages' form: its fields to the JSON API's recipe body and back, and the API's validation
problems to the field they concern. Pure: no database, no request.

The form is flat (one HTML input per value) and shows the inputs of one kind of recipe at a time:
email -> new item, email -> update on an item, item created -> email, column changed -> email. Its body
is exactly what a client of POST /api/recipes would send, so the page and the API store the same recipe
and refuse the same mistakes with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from recipes.model import (
    ColumnChangedTrigger,
    CreateItemAction,
    CreateUpdateAction,
    EmailReceivedTrigger,
    ItemCreatedTrigger,
    RecipeSpec,
    SendEmailAction,
)
from recipes.templates import EMAIL_PLACEHOLDERS, ITEM_PLACEHOLDERS

Kind = Literal["email_item", "email_update", "item_created", "column_changed"]

# kind -> (trigger type, action type, what the pages call it)
KINDS: dict[str, tuple[str, str, str]] = {
    "email_item": ("email_received", "create_item", "Email received → new item on a board"),
    "email_update": ("email_received", "create_update", "Email received → update on an existing item"),
    "item_created": ("item_created", "send_email", "Item created on a board → send an email"),
    "column_changed": ("column_changed", "send_email", "Column changed on a board → send an email"),
}
INCOMING_KINDS = ("email_item", "email_update")
# The board select's value for "a monday.com board, its id typed into monday_board_id".
MONDAY = "monday"
IMPORTANCE = ("low", "normal", "high")
MAX_COLUMN_ROWS = 50
EXTRA_COLUMN_ROWS = 3

# What each email field shows, for the hint list next to the templates (every placeholder the template
# language accepts for an incoming recipe; tests check that none is missing).
EMAIL_FIELD_WORDS: dict[str, str] = {
    "subject": "the subject",
    "from.address": "the sender's address",
    "from.name": "the sender's name",
    "received_at": "when it was received",
    "preview": "the first lines of the body",
    "body": "the body as plain text",
    "to": "the To recipients",
    "cc": "the Cc recipients",
    "importance": "low, normal or high",
    "conversation_id": "the conversation's id",
    "link": "a link to the message in Outlook",
}

_CONDITION_LISTS = ("to_contains", "cc_contains", "subject_contains", "body_contains")
# Every input that can carry an error, per kind; a problem for anything else is shown at the top.
_COMMON = ("name", "connection_id", "kind", "enabled")
_INCOMING = ("folder", "from", *_CONDITION_LISTS, "has_attachments", "importance", "board")
FIELDS: dict[str, tuple[str, ...]] = {
    "email_item": (
        *_COMMON,
        *_INCOMING,
        "group",
        "item_name",
        "columns",
        "replies",
        "reply_update",
        "attachments",
    ),
    "email_update": (*_COMMON, *_INCOMING, "find_column", "find_value", "update_body"),
    "item_created": (*_COMMON, "board", "email_to", "email_subject", "email_body"),
    "column_changed": (*_COMMON, "board", "column", "to_value", "email_to", "email_subject", "email_body"),
}


def email_fields() -> list[tuple[str, str]]:
    """("{subject}", "the subject"), ... for every placeholder an incoming recipe's templates accept."""
    return [("{" + name + "}", EMAIL_FIELD_WORDS.get(name, name)) for name in EMAIL_PLACEHOLDERS]


def item_fields(columns: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The placeholders an outgoing recipe's templates accept; `columns`: the watched board's titles."""
    found = [("{" + name + "}", words) for name, words in ITEM_PLACEHOLDERS.items()]
    found += [("{column:" + title + "}", f"the item's {title} column") for title in columns]
    found.append(("{column:<column title>}", "any column of the board, by its title"))
    return found


@dataclass
class RecipeForm:
    """What the form shows and what it sent: every value as the input holds it."""

    kind: str = "email_item"
    name: str = ""
    connection_id: str = ""
    enabled: bool = True
    # email_received
    folder: str = "inbox"
    from_: str = ""
    to_contains: str = ""
    cc_contains: str = ""
    subject_contains: str = ""
    body_contains: str = ""
    has_attachments: str = ""  # "", "yes" or "no"
    importance: list[str] = field(default_factory=list)
    # The board written to (incoming) or watched (outgoing): a built-in board's id, or MONDAY.
    board: str = ""
    monday_board_id: str = ""
    # create_item
    group: str = ""
    item_name: str = "{subject}"
    columns: list[tuple[str, str]] = field(default_factory=list)
    replies: str = "update"
    reply_update: str = "{body}"
    attachments: bool = False
    # create_update
    find_column: str = ""
    find_value: str = ""
    update_body: str = "{body}"
    # column_changed
    column: str = ""
    to_value: str = ""
    # send_email
    email_to: str = ""
    email_subject: str = ""
    email_body: str = ""

    @property
    def incoming(self) -> bool:
        return self.kind in INCOMING_KINDS

    def column_rows(self) -> list[tuple[str, str]]:
        """The mapped columns and a few empty rows to map more (no script needed to add a row)."""
        rows = self.columns + [("", "")] * EXTRA_COLUMN_ROWS
        return rows[: max(MAX_COLUMN_ROWS, len(self.columns))]

    # --- form -> API body ---------------------------------------------------------------------------

    def board_ref(self) -> tuple[str, str]:
        """(destination or source, board id) as the API takes them."""
        if self.board == MONDAY:
            return "monday", self.monday_board_id.strip()
        return "builtin", self.board.strip()

    def trigger(self) -> dict[str, Any]:
        if self.incoming:
            conditions: dict[str, Any] = {}
            senders = lines(self.from_, commas=True)
            if senders:
                conditions["from"] = senders
            for name in _CONDITION_LISTS:
                values = lines(getattr(self, name))
                if values:
                    conditions[name] = values
            if self.has_attachments in ("yes", "no"):
                conditions["has_attachments"] = self.has_attachments == "yes"
            if self.importance:
                conditions["importance"] = list(self.importance)
            return {"type": "email_received", "folder": self.folder or "inbox", "conditions": conditions}
        source, board_id = self.board_ref()
        trigger: dict[str, Any] = {"type": KINDS[self.kind][0], "source": source, "board_id": board_id}
        if self.kind == "column_changed":
            trigger["column"] = self.column
            if self.to_value.strip():
                trigger["to"] = self.to_value
        return trigger

    def action(self) -> dict[str, Any]:
        destination, board_id = self.board_ref()
        if self.kind == "email_item":
            return {
                "type": "create_item",
                "destination": destination,
                "board_id": board_id,
                "group": self.group,
                "item_name": self.item_name,
                "columns": dict(self.columns),
                "replies": self.replies,
                "reply_update": self.reply_update,
                "attachments": self.attachments,
            }
        if self.kind == "email_update":
            return {
                "type": "create_update",
                "destination": destination,
                "board_id": board_id,
                "find": {"column": self.find_column, "value": self.find_value},
                "body": self.update_body,
            }
        return {
            "type": "send_email",
            "to": self.email_to,
            "subject": self.email_subject,
            "body": self.email_body,
        }

    def create_request(self) -> dict[str, Any]:
        """The POST /api/recipes body."""
        return {
            "connection_id": self.connection_id,
            "name": self.name,
            "enabled": self.enabled,
            "trigger": self.trigger(),
            "action": self.action(),
        }

    def update_request(self) -> dict[str, Any]:
        """The PATCH /api/recipes/{id} body: name, trigger and action (enabling has its own buttons)."""
        return {"name": self.name, "trigger": self.trigger(), "action": self.action()}

    def problems(self) -> list[tuple[str, str]]:
        """What only the form can get wrong (the API's body cannot): (field, message)."""
        found: list[tuple[str, str]] = []
        if self.kind not in KINDS:
            found.append(("kind", f"choose what the recipe does ({', '.join(KINDS)})"))
        titles = [t for t, _ in self.columns]
        twice = sorted({t for t in titles if titles.count(t) > 1})
        if twice and self.kind == "email_item":
            found.append(
                ("columns", f"each column can be filled once; given more than once: {', '.join(twice)}")
            )
        return found


def lines(text: str, *, commas: bool = False) -> list[str]:
    """One value per line (and per comma when `commas`), stripped, without empty ones."""
    parts = text.replace(",", "\n").splitlines() if commas else text.splitlines()
    return [p.strip() for p in parts if p.strip()]


def parse(items: Iterable[tuple[str, Any]]) -> RecipeForm:
    """The form from a browser's fields (name, value pairs, as Starlette's FormData.multi_items() gives
    them; anything but text is ignored)."""
    values: dict[str, list[str]] = {}
    for key, value in items:
        if isinstance(value, str):
            values.setdefault(key, []).append(value)

    def one(name: str, default: str = "") -> str:
        found = values.get(name)
        return found[-1] if found else default

    titles, templates = values.get("column_title", []), values.get("column_template", [])
    columns = [
        (title.strip(), template)
        for title, template in zip(titles, templates + [""] * (len(titles) - len(templates)), strict=False)
        if title.strip() or template.strip()
    ]
    return RecipeForm(
        kind=one("kind", "email_item"),
        name=one("name"),
        connection_id=one("connection_id").strip(),
        enabled=one("enabled") == "on",
        folder=one("folder", "inbox"),
        from_=one("from"),
        to_contains=one("to_contains"),
        cc_contains=one("cc_contains"),
        subject_contains=one("subject_contains"),
        body_contains=one("body_contains"),
        has_attachments=one("has_attachments"),
        importance=[v for v in values.get("importance", []) if v],
        board=one("board").strip(),
        monday_board_id=one("monday_board_id"),
        group=one("group"),
        item_name=one("item_name"),
        columns=columns,
        replies=one("replies", "update"),
        reply_update=one("reply_update"),
        attachments=one("attachments") == "on",
        find_column=one("find_column"),
        find_value=one("find_value"),
        update_body=one("update_body"),
        column=one("column"),
        to_value=one("to_value"),
        email_to=one("email_to"),
        email_subject=one("email_subject"),
        email_body=one("email_body"),
    )


def kind_of(spec: RecipeSpec) -> str:
    trigger, action = spec.trigger.type, spec.action.type
    return next(k for k, (t, a, _) in KINDS.items() if t == trigger and a == action)


def from_spec(spec: RecipeSpec, *, name: str, connection_id: str, enabled: bool) -> RecipeForm:
    """The form showing a stored recipe (what `parse` of the rendered form gives back)."""
    form = RecipeForm(kind=kind_of(spec), name=name, connection_id=connection_id, enabled=enabled)
    trigger, action = spec.trigger, spec.action
    if isinstance(trigger, EmailReceivedTrigger):
        c = trigger.conditions
        form.folder = trigger.folder
        form.from_ = "\n".join(c.from_)
        for name_ in _CONDITION_LISTS:
            setattr(form, name_, "\n".join(getattr(c, name_)))
        form.has_attachments = "" if c.has_attachments is None else ("yes" if c.has_attachments else "no")
        form.importance = list(c.importance)
    elif isinstance(trigger, ItemCreatedTrigger | ColumnChangedTrigger):
        form.board, form.monday_board_id = _board_choice(trigger.source, trigger.board_id)
        if isinstance(trigger, ColumnChangedTrigger):
            form.column, form.to_value = trigger.column, trigger.to or ""
    if isinstance(action, CreateItemAction):
        form.board, form.monday_board_id = _board_choice(action.destination, action.board_id)
        form.group, form.item_name, form.columns = (
            action.group,
            action.item_name,
            list(action.columns.items()),
        )
        form.replies, form.reply_update, form.attachments = (
            action.replies,
            action.reply_update,
            action.attachments,
        )
    elif isinstance(action, CreateUpdateAction):
        form.board, form.monday_board_id = _board_choice(action.destination, action.board_id)
        form.find_column, form.find_value, form.update_body = (
            action.find.column,
            action.find.value,
            action.body,
        )
    elif isinstance(action, SendEmailAction):
        form.email_to, form.email_subject, form.email_body = action.to, action.subject, action.body
    return form


def _board_choice(kind: str, board_id: str) -> tuple[str, str]:
    return (MONDAY, board_id) if kind == "monday" else (board_id, "")


# --- the API's problems -> the form's fields --------------------------------------------------------

_TAGS = frozenset(
    {"email_received", "item_created", "column_changed", "create_item", "create_update", "send_email"}
)
_TRIGGER_FIELDS = {
    "folder": "folder",
    "board_id": "board",
    "source": "board",
    "column": "column",
    "to": "to_value",
}
_ACTION_FIELDS = {
    "board_id": "board",
    "destination": "board",
    "group": "group",
    "item_name": "item_name",
    "columns": "columns",
    "replies": "replies",
    "reply_update": "reply_update",
    "attachments": "attachments",
    "to": "email_to",
    "subject": "email_subject",
}
# A model check names the field at the start of its message ("item_name: unknown placeholder {x}").
_PREFIXES = (
    ("item_name:", "item_name"),
    ("reply_update:", "reply_update"),
    ("column '", "columns"),
    ("a column title is empty", "columns"),
    ("find.value:", "find_value"),
    ("to:", "email_to"),
    ("subject:", "email_subject"),
    ("attachments ", "attachments"),
)
VALUE_ERROR = "Value error, "


def readable(msg: str) -> str:
    """pydantic's message without its "Value error, " prefix."""
    return msg[len(VALUE_ERROR) :] if msg.startswith(VALUE_ERROR) else msg


def field_for(loc: Sequence[str | int], msg: str, kind: str) -> str:
    """The form field a problem of the API (its loc, without the leading "body") concerns; "" for the
    top of the form."""
    path = [str(p) for p in loc]
    if path and path[0] == "body":
        path = path[1:]
    if len(path) > 1 and path[0] in ("trigger", "action") and path[1] in _TAGS:
        path = [path[0], *path[2:]]
    if not path:
        return ""
    head, rest = path[0], path[1:]
    if head in ("name", "connection_id", "enabled"):
        return head
    body = "update_body" if kind == "email_update" else "email_body"
    if head == "trigger":
        if not rest:
            return "board" if "board id" in msg else "kind"
        if rest[0] == "conditions":
            return rest[1] if len(rest) > 1 else "from"
        return _TRIGGER_FIELDS.get(rest[0], "")
    if head == "action":
        if not rest:
            text = readable(msg)
            if text.startswith("body:"):
                return body
            for prefix, name in _PREFIXES:
                if text.startswith(prefix):
                    return name
            return "board" if "board id" in text else ""
        if rest[0] == "find":
            return "find_column" if rest[1:2] == ["column"] else "find_value"
        if rest[0] == "body":
            return body
        return _ACTION_FIELDS.get(rest[0], "")
    return ""


def errors_by_field(problems: Iterable[tuple[Sequence[str | int], str]], kind: str) -> dict[str, list[str]]:
    """{field: [messages]} for the form of `kind`; "" holds what concerns no input it shows."""
    shown = set(FIELDS.get(kind, _COMMON))
    found: dict[str, list[str]] = {}
    for loc, msg in problems:
        name = field_for(loc, msg, kind)
        found.setdefault(name if name in shown else "", []).append(readable(msg))
    return found
