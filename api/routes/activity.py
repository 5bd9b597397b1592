"""What became of a connection's messages: the activity log, newest first (never email content)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from activitylog import recent_outcomes
from api.deps import CurrentUser, SessionDep
from api.routes.connections import owned_connection

router = APIRouter(prefix="/api/connections", tags=["activity"])


class OutcomePublic(BaseModel):
    message_id: str
    outcome: str
    reason: str
    items_created: int
    recorded_at: datetime


class OutcomesPublic(BaseModel):
    data: list[OutcomePublic]
    count: int


@router.get("/{connection_id}/activity")
def connection_activity(
    connection_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutcomesPublic:
    """The outcomes of the connection's messages, newest first."""
    owned_connection(session, user, connection_id)
    rows = recent_outcomes(session, connection_id, limit)
    data = [
        OutcomePublic(
            message_id=r.message_id,
            outcome=r.outcome,
            reason=r.reason,
            items_created=r.items_created,
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]
    return OutcomesPublic(data=data, count=len(data))
