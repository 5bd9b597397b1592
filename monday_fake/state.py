"""The fake's memory: boards with their groups and columns, items with column values, updates, tokens,
webhooks (and the thread that delivers their events)."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monday_fake.webhooks import Deliverer, Webhook

# monday.com's ColumnValue implementation for each column type the fake knows.
VALUE_TYPES = {
    "text": "TextValue",
    "long_text": "LongTextValue",
    "email": "EmailValue",
    "date": "DateValue",
    "status": "StatusValue",
    "numbers": "NumbersValue",
    "link": "LinkValue",
    "file": "FileValue",
}


class ColumnValueRefused(ValueError):
    """A column value monday.com would refuse (ColumnValueException)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Column:
    id: str
    title: str
    type: str
    labels: list[str] = field(default_factory=list)

    @property
    def settings_str(self) -> str:
        if self.type == "status":
            return json.dumps({"labels": {str(i): label for i, label in enumerate(self.labels)}})
        return "{}"

    def text_of(self, value: Any, create_labels: bool) -> str:
        """The text monday.com shows for a value written to this column (the value as sent in JSON)."""
        if isinstance(value, str | int | float):
            text = str(value)
        elif isinstance(value, dict):
            key = {"long_text": "text", "email": "email", "date": "date", "status": "label", "link": "url"}
            text = str(value.get(key.get(self.type, "text"), "") or "")
            if self.type == "date" and value.get("time"):
                text = f"{text} {value['time']}"
        else:
            raise ColumnValueRefused(f"column {self.id}: unsupported value")
        if self.type == "status" and text and text not in self.labels:
            if not create_labels:
                raise ColumnValueRefused(f"column {self.id}: label does not exist")
            self.labels.append(text)
        if self.type == "numbers" and text:
            try:
                float(text)
            except ValueError:
                raise ColumnValueRefused(f"column {self.id}: not a number") from None
        return text


@dataclass
class Group:
    id: str
    title: str


@dataclass
class Update:
    id: str
    item_id: str
    body: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class Item:
    id: str
    board_id: str
    group_id: str
    name: str
    # column id -> (raw JSON value, text)
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)
    updates: list[Update] = field(default_factory=list)


@dataclass
class Board:
    id: str
    name: str
    groups: list[Group] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def column(self, column_id: str) -> Column | None:
        return next((c for c in self.columns if c.id == column_id), None)


class FakeState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: set[str] = set()
        self.boards: dict[str, Board] = {}
        self.items: dict[str, Item] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.deliverer = Deliverer()
        self._ids = itertools.count(1_000_000_001)
        self.user_id = "4012689"

    def next_id(self) -> str:
        return str(next(self._ids))

    def add_board(self, name: str, groups: list[str], columns: list[tuple[str, str, list[str]]]) -> Board:
        with self.lock:
            board = Board(id=self.next_id(), name=name)
            for position, title in enumerate(groups):
                board.groups.append(Group(id=f"group_{position}_{board.id}", title=title))
            for position, (title, kind, labels) in enumerate(columns):
                board.columns.append(Column(id=f"{kind}_{position}", title=title, type=kind, labels=labels))
            self.boards[board.id] = board
            return board

    def reset(self) -> None:
        with self.lock:
            self.boards.clear()
            self.items.clear()
            self.webhooks.clear()
