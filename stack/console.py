"""The supervisor's console: status lines for the parts, and the children's output prefixed by name."""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def status(self, what: str, part: str, detail: str) -> None:
        """`ok       temporal   127.0.0.1:7233 (0.6 s)`: one line per event, easy to grep."""
        self._write(f"{what:<10}{part:<11}{detail}")

    def note(self, line: str) -> None:
        self._write(line)

    def child_line(self, part: str, line: str) -> None:
        self._write(f"{part:>9} | {line}")
