"""What catch-up redoes besides what the delta finds: messages that failed because the grant was dead
(after a reconnect), and messages whose workflow closed without recording an outcome (terminated by an
operator, timed out), found through Temporal's visibility."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

import activitylog
from activitylog.failures import failed_with_prefix
from payloads.redo import DEAD_GRANT_PREFIX, RedoCandidates, RedoCandidatesRequest

# Closed message workflows looked at per catch-up: one visibility page, newest first.
CLOSED_PAGE = 200


def message_id_of(workflow_id: str, connection_id: str) -> str | None:
    """The message id in `message/<connection>/<message>` or `.../redo/<request id>`."""
    prefix = f"message/{connection_id}/"
    if not workflow_id.startswith(prefix):
        return None
    rest = workflow_id[len(prefix) :]
    return rest.rsplit("/redo/", 1)[0] if "/redo/" in rest else rest


class RedoCandidateActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="redo_candidates")
    async def redo_candidates(self, request: RedoCandidatesRequest) -> RedoCandidates:
        connection = uuid.UUID(request.connection_id)
        found: list[str] = []
        dead_done = True
        if request.dead_grants and request.limit:
            found = await asyncio.to_thread(
                failed_with_prefix, self._engine, connection, DEAD_GRANT_PREFIX, request.limit
            )
            dead_done = len(found) < request.limit
        # The id parsed as a UUID above: nothing but hex digits and dashes goes into the query.
        closed = await self._closed_without_outcome(str(connection))
        found.extend(m for m in closed if m not in found)
        return RedoCandidates(message_ids=found[: request.limit], dead_grants_done=dead_done)

    async def _closed_without_outcome(self, connection_id: str) -> list[str]:
        query = (
            f"ConnectionId = '{connection_id}' AND WorkflowType = 'MessageWorkflow' "
            "AND ExecutionStatus IN ('Terminated', 'TimedOut')"
        )
        ids: list[str] = []
        listed = self._visibility().list_workflows(query, page_size=CLOSED_PAGE, limit=CLOSED_PAGE)
        async for execution in listed:
            message_id = message_id_of(execution.id, connection_id)
            if message_id is not None and message_id not in ids:
                ids.append(message_id)
        if not ids:
            return []
        done = await asyncio.to_thread(activitylog.processed_message_ids, self._engine, connection_id, ids)
        return [m for m in ids if m not in done]

    def _visibility(self) -> Client:
        """Where message workflows are listed: the Temporal this activity runs on."""
        return activity.client()

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.redo_candidates]
