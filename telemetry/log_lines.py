"""The supervisor's side of JSON logs: every line of a JSON-logging part's log file is one JSON object
(what the process printed outside its logging, such as uvicorn's parent process or a crash's traceback,
is wrapped into one), and its console shows each as a short readable line."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from telemetry.json_logs import ID_FIELDS

# uvicorn's own format before the app configured logging ("INFO:     Started server process [12]"), and
# Python's default ("WARNING:alembic...:message"): the level is taken from the prefix.
_LEVEL_PREFIX = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL):\s*(.*)$")


def _parsed(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "message" in value else None


def as_json_line(line: str, logger: str, level: str = "INFO") -> str:
    """`line` if it is already a JSON record, else a record whose message it is (no newline)."""
    if _parsed(line) is not None:
        return line
    prefixed = _LEVEL_PREFIX.match(line)
    if prefixed:
        level, line = prefixed.group(1), prefixed.group(2)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": line,
    }
    return json.dumps(record, ensure_ascii=False)


def readable(line: str) -> str:
    """`18:42:24 WARNING api.webhooks: dropped 1 of 4 notifications [request_id=3f2a...]`; a line that
    is not a JSON record comes back as it is."""
    record = _parsed(line)
    if record is None:
        return line
    time = str(record.get("time", ""))[11:19]
    ids = " ".join(f"{name}={record[name]}" for name in ID_FIELDS if record.get(name))
    text = f"{time} {record.get('level', '')} {record.get('logger', '')}: {record['message']}"
    if ids:
        text += f" [{ids}]"
    exception = record.get("exception")
    if exception:
        text += "\n" + str(exception)
    return text
