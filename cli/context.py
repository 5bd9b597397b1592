"""What every command gets: the API, where to print, the target (for hints) and stdin (for questions)."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

from cli.client import Api
from cli.output import Output
from cli.target import Target


@dataclass
class Context:
    api: Api
    out: Output
    target: Target
    stdin: TextIO

    def confirm(self, question: str) -> bool:
        """Asks on stderr, reads one line; only y or yes (any case) is a yes, end of input is a no."""
        print(f"{question} [y/N] ", end="", file=self.out.err, flush=True)
        answer = self.stdin.readline()
        if not answer:
            print(file=self.out.err)
        return answer.strip().lower() in ("y", "yes")


# A command: what it printed is on the context's output; it returns the exit code.
Handler = Callable[[Context, argparse.Namespace], Awaitable[int]]


def an_id(kind: str) -> Callable[[str], str]:
    """An argparse type: a UUID (else a usage error naming what was expected)."""

    def parse(value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind} id (a UUID): {value!r}") from None

    parse.__name__ = f"{kind} id"
    return parse


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number
