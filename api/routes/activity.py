"""What became of a connection's messages: the activity log, newest first (never email content)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from api.routes.connections import owned_connection
from db.activity_log import MessageOutcome

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


# A row's place in the newest-first order: (recorded_at, message_id).
Position = tuple[datetime, str]


def find_outcomes(
    session: Session,
    connection_id: uuid.UUID,
    limit: int,
    *,
    outcome: str | None = None,
    older_than: Position | None = None,
    newer_than: Position | None = None,
) -> list[MessageOutcome]:
    """The connection's outcomes, newest first (ties by message id), optionally of one outcome only.
    `older_than`/`newer_than` a row's position: the `limit` rows just after/before it in that order,
    which is how the activity page turns pages (a position, unlike an offset, does not shift as new
    outcomes arrive)."""
    query = select(MessageOutcome).where(MessageOutcome.connection_id == connection_id)
    if outcome is not None:
        query = query.where(MessageOutcome.outcome == outcome)
    at, message_id = MessageOutcome.recorded_at, MessageOutcome.message_id
    if older_than is not None:
        query = query.where(or_(at < older_than[0], and_(at == older_than[0], message_id > older_than[1])))
    if newer_than is not None:
        query = query.where(or_(at > newer_than[0], and_(at == newer_than[0], message_id < newer_than[1])))
        # The rows closest to the position, then turned back to newest first.
        rows = session.scalars(query.order_by(at, message_id.desc()).limit(limit)).all()
        return list(reversed(rows))
    return list(session.scalars(query.order_by(at.desc(), message_id).limit(limit)).all())


def outcome_public(row: MessageOutcome) -> OutcomePublic:
    return OutcomePublic(
        message_id=row.message_id,
        direction=row.direction,
        outcome=row.outcome,
        reason=row.reason,
        items_created=row.items_created,
        recipes=_recipes(row.details),
        recorded_at=row.recorded_at,
    )


@router.get("/{connection_id}/activity")
def connection_activity(
    connection_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutcomesPublic:
    """The outcomes of the connection's messages, newest first."""
    owned_connection(session, user, connection_id)
    data = [outcome_public(r) for r in find_outcomes(session, connection_id, limit)]
    return OutcomesPublic(data=data, count=len(data))
