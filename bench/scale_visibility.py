"""The product's `redo_candidates` activity for a worker on the time-skipping test server, which has no
visibility API (ListWorkflowExecutions is unimplemented there): the same activity, whose one visibility
query (message workflows closed without an outcome) goes to the stack's dev server instead, where this
connection's message workflows would be listed. The database part is unchanged."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from temporalio.client import Client

import activitylog
from activities.redo_candidates import CLOSED_PAGE, RedoCandidateActivities, message_id_of


class RedoCandidatesListedElsewhere(RedoCandidateActivities):
    def __init__(self, engine: Engine, visibility: Client) -> None:
        super().__init__(engine)
        self._visibility = visibility

    async def _closed_without_outcome(self, connection_id: str) -> list[str]:
        # As the product's, with the dev server's client in place of activity.client().
        query = (
            f"ConnectionId = '{connection_id}' AND WorkflowType = 'MessageWorkflow' "
            "AND ExecutionStatus IN ('Terminated', 'TimedOut')"
        )
        ids: list[str] = []
        listed = self._visibility.list_workflows(query, page_size=CLOSED_PAGE, limit=CLOSED_PAGE)
        async for execution in listed:
            message_id = message_id_of(execution.id, connection_id)
            if message_id is not None and message_id not in ids:
                ids.append(message_id)
        if not ids:
            return []
        done = await asyncio.to_thread(activitylog.processed_message_ids, self._engine, connection_id, ids)
        return [m for m in ids if m not in done]
