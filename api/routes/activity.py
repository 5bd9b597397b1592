"""What became of a connection's messages: the activity log, newest first (never email content)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, ValidationError

from activitylog import recent_outcomes
from api.deps import CurrentUser, SessionDep
from api.routes.connections import owned_connection

router = APIRouter(prefix="/api/connections", tags=["activity"])


class RecipeResultPublic(BaseModel):
    """What one recipe did with the message (or why it did not match)."""

    recipe_id: str
    recipe: str
    # item, update, attached, missed, no item, failed
    result: str
    reason: str
    # Template fields that rendered empty.
    missing: list[str] = Field(default_factory=list)


class OutcomePublic(BaseModel):
    message_id: str
    # "incoming": a notified message; "outgoing": an email a board event sent.
    direction: str
    outcome: str
    reason: str
    items_created: int
    recipes: list[RecipeResultPublic]
    recorded_at: datetime


def _recipes(details: str | None) -> list[RecipeResultPublic]:
    if not details:
        return []
    try:
        entries = json.loads(details)
        return [RecipeResultPublic.model_validate(e) for e in entries]
    except (ValueError, TypeError, ValidationError):
        # A row written by a newer release in a shape this one does not know: shown without details.
        return []


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
            direction=r.direction,
            outcome=r.outcome,
            reason=r.reason,
            items_created=r.items_created,
            recipes=_recipes(r.details),
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]
    return OutcomesPublic(data=data, count=len(data))
