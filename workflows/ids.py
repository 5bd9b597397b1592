"""The workflows' ids: derived from what they are about, so that a repeat never starts a second one and
anyone (the API, the forwarder, an operator with the CLI) finds a workflow from the connection's id."""

from __future__ import annotations

import uuid


def connection_workflow_id(connection_id: uuid.UUID | str) -> str:
    return f"connection/{connection_id}"


def message_workflow_id(connection_id: str, message_id: str) -> str:
    return f"message/{connection_id}/{message_id}"


def redo_workflow_id(connection_id: str, message_id: str, request_id: str) -> str:
    """A message processed again: a new id per redo request (the first id is closed for good)."""
    return f"message/{connection_id}/{message_id}/redo/{request_id}"


def send_workflow_id(connection_id: str, event_id: str, recipe_id: str) -> str:
    """One board event, one send workflow per recipe, ever (started with REJECT_DUPLICATE)."""
    return f"send/{connection_id}/{event_id}/{recipe_id}"
