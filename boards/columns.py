"""A board's columns and groups as the writers see them: titles resolved (exact, else ignoring case: titles
are unique ignoring case, so that is never ambiguous), values checked against each column's type.

Errors name the board, group and column, never a value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from boards import values
from boards.errors import ColumnNotFound, GroupNotFound, InvalidValue
from db.boards import Board, BoardColumn, BoardGroup


def labels_of(settings: str | None) -> list[str]:
    """A status column's labels from its settings JSON ([] when there are none or it is unreadable)."""
    try:
        parsed = json.loads(settings or "{}")
    except ValueError:
        return []
    labels = parsed.get("labels") if isinstance(parsed, dict) else None
    return [str(label) for label in labels] if isinstance(labels, list) else []


def settings_for(labels: list[str]) -> str:
    return json.dumps({"labels": labels}, ensure_ascii=False) if labels else "{}"


@dataclass(frozen=True)
class Column:
    # The key of the item's column_values JSON.
    key: str
    title: str
    type: str
    labels: tuple[str, ...]


def _match(titles: list[str], wanted: str) -> str | None:
    if wanted in titles:
        return wanted
    folded = wanted.strip().casefold()
    return next((t for t in titles if t.casefold() == folded), None)


class BoardColumns:
    def __init__(self, board: Board, columns: list[Column]) -> None:
        self.board = board
        self.columns = columns
        self._by_title = {c.title: c for c in columns}

    @classmethod
    def load(cls, session: Session, board: Board) -> BoardColumns:
        rows = session.scalars(
            select(BoardColumn).where(BoardColumn.board_id == board.id).order_by(BoardColumn.position)
        )
        return cls(board, [Column(str(c.id), c.title, c.type, tuple(labels_of(c.settings))) for c in rows])

    def find(self, title: str) -> Column:
        found = _match(list(self._by_title), title)
        if found is None:
            known = ", ".join(c.title for c in self.columns) or "none"
            raise ColumnNotFound(
                f"board {self.board.name!r} has no column {title!r}; its columns are: {known}"
            )
        return self._by_title[found]

    def check(self, raw: Mapping[str, str | None], *, fit: bool = False) -> dict[Column, str | None]:
        """Each given column with the value to store (None: cleared). Every title and value is checked
        before the caller writes anything. `fit`: text from an email is cut to fit (boards.values.fit)."""
        convert = values.fit if fit else values.parse
        checked: dict[Column, str | None] = {}
        for title, value in raw.items():
            column = self.find(title)
            try:
                checked[column] = convert(column.type, value, column.labels)
            except InvalidValue as err:
                raise InvalidValue(f"column {column.title!r} ({column.type}) {err}") from None
        return checked


def find_group(session: Session, board: Board, title: str | None) -> BoardGroup:
    """The board's group of this title; the first group when title is None."""
    groups = list(
        session.scalars(
            select(BoardGroup).where(BoardGroup.board_id == board.id).order_by(BoardGroup.position)
        )
    )
    if title is None and groups:
        return groups[0]
    found = None if title is None else _match([g.title for g in groups], title)
    if found is None:
        known = ", ".join(g.title for g in groups) or "none"
        raise GroupNotFound(f"board {board.name!r} has no group {title!r}; its groups are: {known}")
    return next(g for g in groups if g.title == found)
