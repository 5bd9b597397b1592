"""Concurrent webhook requests share one outbox transaction, and a request whose entries cannot be
stored fails alone: on a real SQLite file, counting the transactions SQLAlchemy commits."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError

from db.engine import session_scope
from db.outbox import OutboxRow
from webhooks.outbox import Outbox, OutboxEntry


def commits(engine: Engine) -> list[int]:
    counted: list[int] = []
    event.listen(engine, "commit", lambda _conn: counted.append(1))
    return counted


def stored(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [r.message_ids or "" for r in session.scalars(select(OutboxRow).order_by(OutboxRow.id))]


async def test_concurrent_puts_are_stored_together_and_each_answers_after_its_write(engine, new_connection):
    connection = uuid.UUID(new_connection())
    outbox = Outbox(engine)
    counted = commits(engine)
    entries = [OutboxEntry(connection_id=connection, message_ids=[f"m{n}"]) for n in range(50)]
    await asyncio.gather(*(outbox.put([e]) for e in entries))
    assert len(stored(engine)) == 50  # every request's entry is there once it has been answered
    assert len(counted) < 10, len(counted)  # not one transaction per request


async def test_a_request_whose_entries_break_a_constraint_fails_alone(engine, new_connection):
    good = uuid.UUID(new_connection())
    gone = uuid.uuid4()  # no such connection: the foreign key refuses the row
    outbox = Outbox(engine)
    results = await asyncio.gather(
        outbox.put([OutboxEntry(connection_id=good, message_ids=["a"])]),
        outbox.put([OutboxEntry(connection_id=gone, message_ids=["b"])]),
        outbox.put([OutboxEntry(connection_id=good, message_ids=["c"])]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert sorted(stored(engine)) == ['["a"]', '["c"]']


async def test_a_database_failure_fails_every_request_of_that_write(engine, new_connection):
    connection = uuid.UUID(new_connection())
    outbox = Outbox(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE webhook_outbox")
    with pytest.raises(Exception, match="webhook_outbox"):
        await asyncio.gather(
            *(outbox.put([OutboxEntry(connection_id=connection, message_ids=["x"])]) for _ in range(3))
        )
