"""Rendered column texts -> monday.com's column_values JSON, per column type.

Empty texts are left out (monday.com keeps the column blank). A value a column type cannot hold is a
BoardStoreError naming the column, never the value (which is email content).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boards.errors import BoardStoreError, ColumnNotFound
from boards.monday.wire import RemoteBoard, RemoteColumn

SUPPORTED_TYPES = ("text", "long_text", "email", "date", "status", "numbers", "link")


def column_by_title(board: RemoteBoard, title: str) -> RemoteColumn:
    wanted = title.strip().casefold()
    for column in board.columns:
        if column.title.strip().casefold() == wanted:
            return column
    raise ColumnNotFound(f"monday.com board {board.id} has no column titled {title!r}")


def column_value(column: RemoteColumn, text: str) -> Any:
    """The JSON value monday.com's create_item / change_multiple_column_values take for this column."""
    kind = column.type
    if kind == "text":
        return text
    if kind == "long_text":
        return {"text": text}
    if kind == "email":
        return {"email": text.strip(), "text": text.strip()}
    if kind == "status":
        return {"label": text.strip()}
    if kind == "link":
        return {"url": text.strip(), "text": text.strip()}
    if kind == "numbers":
        try:
            float(text.strip())
        except ValueError:
            raise BoardStoreError(f"column {column.title!r} takes a number") from None
        return text.strip()
    if kind == "date":
        return _date(column, text.strip())
    raise BoardStoreError(
        f"column {column.title!r} is of type {kind}, which recipes cannot write "
        f"(supported: {', '.join(SUPPORTED_TYPES)})"
    )


def column_values(board: RemoteBoard, texts: dict[str, str]) -> dict[str, Any]:
    """Column title -> text, as monday.com's column id -> value (blank texts left out)."""
    values: dict[str, Any] = {}
    for title, text in texts.items():
        column = column_by_title(board, title)
        if text.strip():
            values[column.id] = column_value(column, text)
    return values


def _date(column: RemoteColumn, text: str) -> dict[str, str]:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BoardStoreError(f"column {column.title!r} takes a date (ISO 8601)") from None
    if moment.tzinfo is None:
        return {"date": moment.date().isoformat()} if len(text) <= 10 else _utc(moment)
    return _utc(moment.astimezone(UTC))


def _utc(moment: datetime) -> dict[str, str]:
    # monday.com stores a date column's time in UTC.
    return {"date": moment.date().isoformat(), "time": moment.strftime("%H:%M:%S")}
