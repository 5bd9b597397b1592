"""`--since`: an ISO 8601 time with its zone, or a duration back from now (30m, 6h, 2d, 1w)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_since(value: str, now: datetime | None = None) -> datetime:
    text = value.strip()
    found = _DURATION.match(text.lower())
    if found:
        amount, unit = int(found.group(1)), _UNITS[found.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a time (2026-12-06T18:00:00Z) nor a duration (30m, 6h, 2d, 1w)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no time zone: add Z for UTC or an offset such as +01:00"
        )
    return moment


def since_arg(value: str) -> datetime:
    """The argparse type (now is the moment of parsing)."""
    return parse_since(value)
