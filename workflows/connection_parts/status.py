"""The connection's status as the user and the operator see it: the API's row (through an activity), the
ConnectionStatus search attribute, and the Temporal UI's current details."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.connection import ConnectionActivities
    from payloads.connection import ConnectionStatus, StatusRecord
    from workflows.search_attributes import CONNECTION_STATUS

from workflows.connection_parts.calls import call_until_done
from workflows.connection_parts.run_state import RunState


class Status:
    def __init__(self, run: RunState) -> None:
        self._run = run

    async def set(self, status: ConnectionStatus, reason: str) -> None:
        state = self._run.state
        changed = (state.status, state.status_reason) != (status, reason)
        state.status = status
        state.status_reason = reason
        self.show()
        if not changed and status is not ConnectionStatus.ACTIVE:
            return
        workflow.upsert_search_attributes([CONNECTION_STATUS.value_set(status.value)])
        record = StatusRecord(
            connection_id=self._run.connection_id,
            status=status,
            status_reason=reason,
            subscription_expires_at=state.subscription_expires_at,
            last_notification_at=state.last_notification_at,
        )
        await call_until_done(
            ConnectionActivities.record_connection_status, record, f"record status {status.value}"
        )

    def show(self, text: str | None = None) -> None:
        """The UI's current details: `text` while a step is under way, else what the state says."""
        workflow.set_current_details(text if text is not None else self.details())

    def details(self) -> str:
        """What the workflow is and what it waits for. Safe to change at any time: the current details are
        kept in the worker's memory and served by the `__temporal_workflow_metadata` query, never recorded
        in the history, so replays do not see them. Only the instants that apply to the status are shown:
        a revoked or invalid connection waits for its owner, not for a refresh or a renewal."""
        s = self._run.state
        lines = [f"**Outlook connection for** {self._run.input.mailbox}", f"**Status:** {s.status.value}"]
        if s.status_reason:
            lines.append(f"**Reason:** {s.status_reason}")
        if s.status is ConnectionStatus.ACTIVE:
            if s.subscription_expires_at:
                lines.append(f"**Subscription expires:** {s.subscription_expires_at.isoformat()}")
            if s.next_refresh_at:
                lines.append(f"**Next token refresh:** {s.next_refresh_at.isoformat()}")
            if s.next_renewal_at:
                lines.append(f"**Next subscription renewal:** {s.next_renewal_at.isoformat()}")
        elif s.status is ConnectionStatus.CONNECTING and s.next_refresh_at:
            lines.append(f"**Next attempt to connect:** {s.next_refresh_at.isoformat()}")
        elif s.status in (ConnectionStatus.REVOKED, ConnectionStatus.INVALID):
            lines.append("**Waiting for:** the mailbox's owner to reconnect")
        if self._run.patches.children:
            lines.append(
                f"**Messages:** {s.messages_started} started, {s.duplicates_dropped} duplicates dropped, "
                f"{len(s.pending_messages)} waiting"
            )
        return "\n\n".join(lines)
