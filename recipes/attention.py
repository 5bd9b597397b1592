"""Which recipes need the user's attention, for GET /api/recipes: a recipe that no longer fits its built-in
board (recipes.board_check.spec_problems), or whose latest result in the activity log is "failed".

The latest result is read from the activity log's per-recipe details, newest first. "missed" entries (the
message did not meet the recipe's conditions) are passed over: they say nothing about whether the
recipe works, and on a busy mailbox they would clear a failure within seconds. A failure is cleared by
the recipe's next item, update, "no item" or (outgoing) sent or skipped email.

Bounded for a list: one query over the activity log of the listed recipes' connections, the last
WINDOW and at most MAX_ROWS rows (newest first). A failure older than that, or behind that many newer
rows, is no longer shown: it has aged out of what the page reads, as on the activity page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from boards import service as boards
from db.activity_log import MessageOutcome
from db.recipes import RecipeRow
from recipes.board_check import spec_problems
from recipes.schemas import NeedsAttention
from recipes.store import spec_of

WINDOW = timedelta(days=7)
MAX_ROWS = 10_000


@dataclass
class Failure:
    # The newest failure's reason, and when the current run of failures began.
    reason: str
    since: datetime


def latest_failures(
    session: Session, connection_ids: Collection[uuid.UUID], recipe_ids: Collection[str], now: datetime
) -> dict[str, Failure]:
    """recipe id -> its failure, for each of these recipes whose latest result (missed passed over) in
    the connections' recent activity log is "failed". One query."""
    if not connection_ids or not recipe_ids:
        return {}
    rows = session.execute(
        select(MessageOutcome.recorded_at, MessageOutcome.details)
        .where(
            MessageOutcome.connection_id.in_(list(connection_ids)),
            MessageOutcome.recorded_at >= now - WINDOW,
            MessageOutcome.details.is_not(None),
        )
        .order_by(MessageOutcome.recorded_at.desc(), MessageOutcome.message_id)
        .limit(MAX_ROWS)
    )
    failing: dict[str, Failure] = {}
    settled: set[str] = set()
    for recorded_at, details in rows:
        for entry in _entries(details):
            recipe_id = str(entry.get("recipe_id", ""))
            result = entry.get("result")
            if recipe_id not in recipe_ids or recipe_id in settled or result == "missed":
                continue
            if result != "failed":
                settled.add(recipe_id)  # a success: no failure, or the start of the run of failures
            elif recipe_id in failing:
                failing[recipe_id].since = recorded_at  # an older failure of the same run
            else:
                failing[recipe_id] = Failure(str(entry.get("reason") or "failed"), recorded_at)
    return failing


def _entries(details: str | None) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(details or "[]")
    except ValueError:
        return []
    return [e for e in parsed if isinstance(e, dict)] if isinstance(parsed, list) else []


def needs_attention(
    session: Session, account_id: uuid.UUID, rows: Sequence[RecipeRow], now: datetime | None = None
) -> dict[uuid.UUID, NeedsAttention]:
    """recipe id -> why it needs attention, for those of `rows` that do (boards in three queries, the
    activity log in one). `since` is when its current run of failures began; for a recipe that does not
    fit its board and has not failed yet, the moment of this check (no board change is timestamped)."""
    now = now or datetime.now(UTC)
    specs = {row.id: spec_of(row) for row in rows}
    board_ids = {row.id: spec.builtin_board_id() for row, spec in zip(rows, specs.values(), strict=True)}
    found = boards.get_boards(session, account_id, [uuid.UUID(b) for b in board_ids.values() if b])
    failures = latest_failures(
        session, {row.connection_id for row in rows}, {str(row.id) for row in rows}, now
    )
    attention: dict[uuid.UUID, NeedsAttention] = {}
    for row in rows:
        board_id = board_ids[row.id]
        board = found.get(uuid.UUID(board_id)) if board_id else None
        problems = [p.msg for p in spec_problems(specs[row.id], board)]
        failure = failures.get(str(row.id))
        reasons = []
        if problems:
            reasons.append("does not fit its board: " + "; ".join(problems))
        if failure is not None:
            reasons.append("its latest message failed: " + failure.reason)
        if reasons:
            attention[row.id] = NeedsAttention(
                reason="; ".join(reasons), since=failure.since if failure is not None else now
            )
    return attention
