"""The activity page: what became of a connection's messages, newest first, one outcome or all, a page at a
time, each linked to its workflow in the Temporal UI; above it the last 7 days per hour.

It shows what GET /api/connections/{id}/activity shows (ids, outcomes, reasons, recipe results; never
email content) and reads it with the same functions.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from activitylog import OUTCOMES
from api.activity_chart import last_week_chart
from api.deps import OptionalUserDep, SessionDep
from api.routes.activity import OutcomePublic, Position, find_outcomes, outcome_public
from api.routes.connections import owned_connection
from api.templating import signin_redirect, templates
from api.temporal_ui import TemporalUIDep
from workflows.ids import message_workflow_id, send_workflow_id

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50


def encode_position(row: OutcomePublic) -> str:
    """A row's place in the list, for the Older/Newer links (opaque to the reader)."""
    text = f"{row.recorded_at.astimezone(UTC).isoformat()}|{row.message_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_position(value: str) -> Position:
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, message_id = text.split("|", 1)
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="not a position in the list") from None
    if moment.tzinfo is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="not a position in the list")
    return moment, message_id


def workflow_id_of(connection_id: uuid.UUID, row: OutcomePublic) -> str | None:
    """The workflow that recorded the row: a notified message's, or a board event's send."""
    if row.direction == "outgoing":
        # The log's id of a send is "send/<event id>/<recipe id>" (payloads/sends.py).
        kind, _, rest = row.message_id.partition("/")
        event_id, _, recipe_id = rest.partition("/")
        if kind != "send" or not event_id or not recipe_id:
            return None
        return send_workflow_id(str(connection_id), event_id, recipe_id)
    return message_workflow_id(str(connection_id), row.message_id)


@router.get("/connections/{connection_id}/activity", response_class=HTMLResponse)
def activity_page(
    request: Request,
    connection_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUserDep,
    temporal_ui: TemporalUIDep,
    outcome: str = "",
    before: str = "",
    after: str = "",
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> Response:
    """The connection's messages, newest first: outcome, reason, workflow link; a chart of 7 days."""
    if user is None:
        return signin_redirect()
    row = owned_connection(session, user, connection_id)
    if outcome and outcome not in OUTCOMES:
        raise HTTPException(422, detail=f"outcome must be one of {', '.join(OUTCOMES)}")
    chosen = outcome or None
    older_than = decode_position(before) if before else None
    newer_than = decode_position(after) if after and not before else None
    rows = [
        outcome_public(r)
        for r in find_outcomes(
            session, connection_id, limit, outcome=chosen, older_than=older_than, newer_than=newer_than
        )
    ]
    older = newer = ""
    if rows:
        first, last = rows[0], rows[-1]
        # One row past each end says whether there is a page there.
        last_at: Position = (last.recorded_at, last.message_id)
        first_at: Position = (first.recorded_at, first.message_id)
        if find_outcomes(session, connection_id, 1, outcome=chosen, older_than=last_at):
            older = _page_link(connection_id, chosen, before=encode_position(last), limit=limit)
        if find_outcomes(session, connection_id, 1, outcome=chosen, newer_than=first_at):
            newer = _page_link(connection_id, chosen, after=encode_position(first), limit=limit)
    elif older_than or newer_than:
        # Past either end (the rows moved on): the newest page is where to go.
        newer = _page_link(connection_id, chosen, limit=limit)
    now = datetime.now(UTC)
    entries = [
        {
            "row": r,
            "workflow_id": w,
            "workflow_url": w and temporal_ui.workflow_link(w),
        }
        for r in rows
        for w in (workflow_id_of(connection_id, r),)
    ]
    return templates.TemplateResponse(
        request,
        "activity.html",
        {
            "user": user,
            "connection": row,
            "entries": entries,
            "outcomes": OUTCOMES,
            "outcome": chosen or "",
            "paged": bool(older_than or newer_than),
            "older": older,
            "newer": newer,
            "chart": last_week_chart(session, connection_id, row.mailbox),
            "now": now,
        },
    )


def _page_link(connection_id: uuid.UUID, outcome: str | None, limit: int, **position: str) -> str:
    params = {"outcome": outcome or "", **position}
    if limit != PAGE_SIZE:
        params["limit"] = str(limit)
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/connections/{connection_id}/activity" + (f"?{query}" if query else "")
