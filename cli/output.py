"""What the CLI prints: readable tables (the default) or the API's JSON (--json), times in UTC words,
long ids shortened in tables only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

# In a table a Graph message id (about 150 characters) is cut in the middle to this width.
ID_WIDTH = 32


@dataclass
class Output:
    out: TextIO
    err: TextIO
    as_json: bool = False

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        """A remark for a person (stderr, so that it never ends up in a script's input)."""
        print(text, file=self.err)

    def json(self, value: Any) -> None:
        print(json.dumps(value, indent=2, ensure_ascii=False), file=self.out)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        for text in render_table(headers, rows):
            self.line(text)

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        width = max(len(name) for name, _ in pairs)
        for name, value in pairs:
            self.line(f"{name + ':':<{width + 1}} {value}")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart; the last column is never padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        padded = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return [fmt(headers), *(fmt(r) for r in rows)]


def when(value: str | None) -> str:
    """An API time (ISO 8601) as `2026-12-06 17:18:21 UTC`; "-" for none."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:  # the API's SQLite times are naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: str, width: int = ID_WIDTH) -> str:
    """`value` cut in the middle to `width` characters (both ends stay recognisable)."""
    if len(value) <= width:
        return value
    keep = width - 1
    return value[: (keep + 1) // 2] + "…" + value[len(value) - keep // 2 :]


def text(value: Any) -> str:
    """A cell: none is "-", lists are comma-separated."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
