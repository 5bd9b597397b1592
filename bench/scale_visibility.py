"""The product's `redo_candidates` activity for a worker on the time-skipping test server, which has no
visibility API (ListWorkflowExecutions is unimplemented there): the same activity, whose one visibility
query (message workflows closed without an outcome) goes to the stack's dev server instead, where this
connection's message workflows would be listed. The database part is unchanged."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio.client import Client

from activities.redo_candidates import RedoCandidateActivities


class RedoCandidatesListedElsewhere(RedoCandidateActivities):
    def __init__(self, engine: Engine, visibility: Client) -> None:
        super().__init__(engine)
        self._listing = visibility

    def _visibility(self) -> Client:
        return self._listing
