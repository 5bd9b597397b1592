"""The send ledger's rows (db/outgoing_sends.py), one per (board event, recipe). Sync (SQLAlchemy on an
Engine): the send activity calls these in threads.

A row is committed as "attempted" before sendMail is called, so an attempt that never learns the answer
(timeout, killed worker) leaves a row that says so; the next attempt then looks in Sent Items instead of
sending blind. Updates are conditional on the attempt number, so an attempt that a newer one has taken
over (its worker was only slow, not dead) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from db.engine import session_scope
from db.outgoing_sends import OutgoingSend
from payloads.sends import SendRequest

ATTEMPTED = "attempted"
SENT = "sent"
UNKNOWN = "unknown"
FAILED = "failed"


@dataclass(frozen=True)
class Claim:
    state: str
    attempts: int
    attempted_at: datetime
    internet_message_id: str
    # True when this call created the row: nothing was attempted before, send now.
    fresh: bool


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _claim_of(row: OutgoingSend, fresh: bool) -> Claim:
    return Claim(row.state, row.attempts, _aware(row.attempted_at), row.internet_message_id, fresh)


def claim(engine: Engine, request: SendRequest, internet_message_id: str) -> Claim:
    """The row for this send: a new "attempted" one (committed) when there was none, else the row as is."""
    key = (request.event_id, request.recipe_id)
    try:
        with session_scope(engine) as session:
            row = OutgoingSend(
                event_id=request.event_id,
                recipe_id=request.recipe_id,
                connection_id=request.connection_id,
                internet_message_id=internet_message_id,
                state=ATTEMPTED,
                attempts=1,
                attempted_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return _claim_of(row, fresh=True)
    except IntegrityError:
        pass  # a row exists: an earlier attempt got at least this far
    with session_scope(engine) as session:
        existing = session.get(OutgoingSend, key)
        if existing is None:  # removed meanwhile by a throttled attempt: claim again
            return claim(engine, request, internet_message_id)
        return _claim_of(existing, fresh=False)


def _where(request: SendRequest, attempts: int) -> list[object]:
    return [
        OutgoingSend.event_id == request.event_id,
        OutgoingSend.recipe_id == request.recipe_id,
        OutgoingSend.state == ATTEMPTED,
        OutgoingSend.attempts == attempts,
    ]


def reattempt(engine: Engine, request: SendRequest, attempts: int) -> bool:
    """Takes over an attempted row for one more sendMail; False when another attempt took it first."""
    with session_scope(engine) as session:
        result = session.execute(
            update(OutgoingSend)
            .where(*_where(request, attempts))  # type: ignore[arg-type]
            .values(attempts=attempts + 1, attempted_at=datetime.now(UTC), updated_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


def settle(engine: Engine, request: SendRequest, attempts: int, state: str) -> None:
    """Ends an attempted row as sent, unknown or failed."""
    with session_scope(engine) as session:
        session.execute(
            update(OutgoingSend)
            .where(*_where(request, attempts))  # type: ignore[arg-type]
            .values(state=state, updated_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )


def release(engine: Engine, request: SendRequest, attempts: int) -> None:
    """Forgets an attempt Graph certainly refused before sending (429): the next one sends at once."""
    with session_scope(engine) as session:
        session.execute(delete(OutgoingSend).where(*_where(request, attempts)))  # type: ignore[arg-type]


def state_of(engine: Engine, request: SendRequest) -> str | None:
    with session_scope(engine) as session:
        return session.scalar(
            select(OutgoingSend.state).where(
                OutgoingSend.event_id == request.event_id, OutgoingSend.recipe_id == request.recipe_id
            )
        )
