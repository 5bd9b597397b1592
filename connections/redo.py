"""Asking a connection's workflow to redo messages (its `redo_messages` update), in batches of at most
MAX_REDO_IDS ids, all under one request id so that a batch delivered twice starts each message once."""

from __future__ import annotations

import uuid

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from payloads.connection import ConnectionView
from payloads.redo import MAX_REDO_IDS, RedoRequest
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id


class RedoRefused(Exception):
    """The workflow did not take (all of) the ids: `taken` of them went through before it refused."""

    def __init__(self, reason: str, taken: int, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.taken = taken
        # The workflow does not exist any longer (disconnected): no retry will help.
        self.gone = gone


def new_request_id() -> str:
    return f"api-{uuid.uuid4().hex}"


async def redo_messages(temporal: Client, connection_id: uuid.UUID, message_ids: list[str]) -> int:
    """Hands the ids over; returns how many. Raises RedoRefused (a refusal, a closed workflow) and lets
    RPCError for an unreachable Temporal through."""
    # By id (not get_workflow_handle_for): mypy types the latter's workflow as Never in whole-project
    # runs, depending on the order it reads the modules in.
    handle = temporal.get_workflow_handle(connection_workflow_id(connection_id), result_type=ConnectionView)
    request_id = new_request_id()
    taken = 0
    for start in range(0, len(message_ids), MAX_REDO_IDS):
        batch = message_ids[start : start + MAX_REDO_IDS]
        request = RedoRequest(request_id=request_id, message_ids=batch)
        try:
            await handle.execute_update(ConnectionWorkflow.redo_messages, request)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            raise RedoRefused(reason, taken) from None
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise RedoRefused("the connection's workflow has ended", taken, gone=True) from None
            raise
        taken += len(batch)
    return taken
