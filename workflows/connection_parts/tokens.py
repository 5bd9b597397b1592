"""The connection's tokens: refreshed ahead of the access token's expiry (with jitter, so connections made
together do not refresh together) and at least every keep-alive interval, so an idle grant never reaches
Microsoft's 90-day inactivity limit. The tokens themselves stay in Vault; the workflow sees instants."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.connection import ConnectionActivities

from workflows.connection_parts.calls import Attempts, call
from workflows.connection_parts.run_state import RunState
from workflows.connection_parts.status import Status


class Tokens:
    def __init__(self, run: RunState, status: Status, attempts: Attempts) -> None:
        self._run = run
        self._status = status
        self._attempts = attempts

    async def describe(self) -> None:
        """Reads the stored tokens' expiry (at start-up) and schedules the first refresh."""
        tokens = await call(ConnectionActivities.describe_tokens, self._run.ref(), "read token expiry")
        self.schedule(tokens.access_expires_at)

    async def refresh(self) -> None:
        result = await self._attempts.attempt(
            call(ConnectionActivities.refresh_tokens, self._run.ref(), "refresh tokens"), self._later
        )
        if result is not None:
            self._run.state.last_refresh_at = workflow.now()
            self.schedule(result.access_expires_at)

    def _later(self) -> None:
        self._run.state.next_refresh_at = workflow.now() + self._run.input.timing.retry_later

    def schedule(self, access_expires_at: datetime) -> None:
        timing = self._run.input.timing
        state = self._run.state
        state.access_expires_at = access_expires_at
        jitter = timing.refresh_jitter * workflow.random().random()
        ahead = access_expires_at - timing.refresh_lead - jitter
        last = state.last_refresh_at or workflow.now()
        keepalive = last + timing.keepalive_interval
        state.next_refresh_at = max(min(ahead, keepalive), workflow.now() + timedelta(seconds=30))
        self._status.show()
