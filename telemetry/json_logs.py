"""Log records as JSON lines: one object per line with time, level, logger and message, and the ids
known where the record was made: connection_id, workflow_id, run_id (in activities from
`temporalio.activity.info()`, in workflow code from the SDK's own `temporal_workflow` record field),
request_id (the API request, telemetry/context.py). An `extra={"connection_id": ...}` wins.

What the message says is what the loggers say: the redaction filter (config/logging.py) has blanked
secrets in URLs before a record is formatted, and no logger in this service logs email content.
A traceback, if any, is one field of the same line, so a line is always one record.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from telemetry import context

ID_FIELDS = ("connection_id", "workflow_id", "run_id", "request_id")
# Workflow ids name their connection second: connection/<id>, message/<id>/..., send/<id>/...
_CONNECTION_ID_PREFIXES = ("connection/", "message/", "send/")


def connection_of(workflow_id: str | None) -> str | None:
    if not workflow_id or not workflow_id.startswith(_CONNECTION_ID_PREFIXES):
        return None
    parts = workflow_id.split("/")
    return parts[1] if len(parts) > 1 and parts[1] else None


def _ids(record: logging.LogRecord) -> dict[str, str]:
    found: dict[str, Any] = {}
    wf = getattr(record, "temporal_workflow", None)
    if isinstance(wf, dict):
        found["workflow_id"] = wf.get("workflow_id")
        found["run_id"] = wf.get("run_id")
    act = getattr(record, "temporal_activity", None)
    if isinstance(act, dict):
        found["workflow_id"] = act.get("workflow_id")
        found["run_id"] = act.get("workflow_run_id")
    elif not isinstance(wf, dict) and activity.in_activity():
        info = activity.info()
        found["workflow_id"] = info.workflow_id
        found["run_id"] = info.workflow_run_id
    found["request_id"] = context.request_id.get()
    found["connection_id"] = connection_of(found.get("workflow_id"))
    for name in ID_FIELDS:  # explicit extra= fields win
        value = getattr(record, name, None)
        if value is not None:
            found[name] = value
    return {name: str(found[name]) for name in ID_FIELDS if found.get(name)}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_ids(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
