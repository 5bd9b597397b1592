"""The outbox table on a real SQLite file (and PostgreSQL when its binaries are installed): what the
webhook stores comes back whole, a lease keeps other forwarders off a row until it runs out, and
concurrent claimers never get the same row."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from db.connections import Connection
from db.engine import create_db_engine, session_scope
from db.migrate import upgrade_to_head
from db.outbox import OutboxRow
from payloads.connection import LifecycleEvent
from tests.db.postgres_server import available, running_postgres
from tests.recipes.support import add_connection
from tests.support.appdb import add_user
from webhooks.outbox import Outbox as OutboxStore
from webhooks.outbox import OutboxEntry

LEASE = timedelta(seconds=30)


def rows(engine: Engine) -> list[OutboxRow]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


async def test_entries_come_back_whole_and_in_order(engine, new_connection):
    a, b = uuid.UUID(new_connection()), uuid.UUID(new_connection())
    store = OutboxStore(engine)
    await store.put(
        [
            OutboxEntry(connection_id=a, message_ids=["AAMk1=", "AAMk2="]),
            OutboxEntry(connection_id=b, lifecycle_event=LifecycleEvent.SUBSCRIPTION_REMOVED),
        ]
    )
    await store.put([OutboxEntry(connection_id=a, message_ids=["AAMk3="])])
    claimed = await store.claim("me", lease=LEASE, limit=10)
    assert [(c.connection_id, c.message_ids, c.lifecycle_event, c.attempts) for c in claimed] == [
        (a, ["AAMk1=", "AAMk2="], None, 0),
        (b, None, LifecycleEvent.SUBSCRIPTION_REMOVED, 0),
        (a, ["AAMk3="], None, 0),
    ]
    stored = rows(engine)
    assert {r.claimed_by for r in stored} == {"me"}
    assert all(r.claimed_until is not None and r.claimed_until > datetime.now(UTC) for r in stored)
    # Ids and a kind only: the row has no column that could hold a clientState or a message's content.
    assert set(OutboxRow.__table__.columns.keys()) == {
        "id",
        "connection_id",
        "kind",
        "message_ids",
        "lifecycle_event",
        "created_at",
        "claimed_by",
        "claimed_until",
        "attempts",
    }


async def test_a_batch_is_stored_whole_or_not_at_all(engine, new_connection):
    store = OutboxStore(engine)
    good = OutboxEntry(connection_id=uuid.UUID(new_connection()), message_ids=["AAMk1="])
    unknown = OutboxEntry(connection_id=uuid.uuid4(), message_ids=["AAMk2="])  # no such connection
    with pytest.raises(IntegrityError):
        await store.put([good, unknown])
    assert rows(engine) == []


def test_an_entry_has_exactly_one_payload():
    with pytest.raises(ValidationError):
        OutboxEntry(connection_id=uuid.uuid4())
    with pytest.raises(ValidationError):
        OutboxEntry(connection_id=uuid.uuid4(), message_ids=["x"], lifecycle_event=LifecycleEvent.MISSED)
    with pytest.raises(ValidationError):
        OutboxEntry(connection_id=uuid.uuid4(), message_ids=[])


async def test_a_lease_keeps_others_off_until_it_runs_out(engine, new_connection):
    store = OutboxStore(engine)
    cid = uuid.UUID(new_connection())
    await store.put([OutboxEntry(connection_id=cid, message_ids=[f"m{i}"]) for i in range(5)])
    first = await store.claim("first", lease=timedelta(seconds=1), limit=3)
    assert [c.message_ids for c in first] == [["m0"], ["m1"], ["m2"]]
    second = await store.claim("second", lease=LEASE, limit=10)
    assert [c.message_ids for c in second] == [["m3"], ["m4"]]  # only what is free
    assert await store.claim("third", lease=LEASE, limit=10) == []
    # "first" crashed: its rows go to whoever claims after its lease ran out.
    await asyncio.sleep(1.2)
    third = await store.claim("third", lease=LEASE, limit=10)
    assert [c.id for c in third] == [c.id for c in first]
    # The crashed holder can neither delete nor reschedule rows it lost.
    await store.remove("first", [c.id for c in first])
    await store.retry_later("first", first, lambda _n: timedelta(0))
    assert {r.claimed_by for r in rows(engine)} == {"second", "third"}
    await store.remove("third", [c.id for c in third])
    assert [r.message_ids for r in rows(engine)] == ['["m3"]', '["m4"]']


async def test_retry_later_counts_attempts_and_holds_rows_back(engine, new_connection):
    store = OutboxStore(engine)
    await store.put([OutboxEntry(connection_id=uuid.UUID(new_connection()), message_ids=["m"])])
    [claimed] = await store.claim("me", lease=LEASE, limit=1)
    await store.retry_later("me", [claimed], lambda attempts: timedelta(seconds=2 * attempts))
    [row] = rows(engine)
    assert row.attempts == 1
    assert row.claimed_until is not None
    assert timedelta(seconds=1) < row.claimed_until - datetime.now(UTC) <= timedelta(seconds=2)
    assert await store.claim("other", lease=LEASE, limit=1) == []  # held back, even from others
    await asyncio.sleep(2.1)
    [again] = await store.claim("other", lease=LEASE, limit=1)
    assert again.attempts == 1


async def test_rows_go_with_their_connection(engine, new_connection):
    store = OutboxStore(engine)
    cid = new_connection()
    await store.put([OutboxEntry(connection_id=uuid.UUID(cid), lifecycle_event=LifecycleEvent.MISSED)])
    with session_scope(engine) as session:
        session.delete(session.get_one(Connection, uuid.UUID(cid)))
    assert rows(engine) == []


def claim_race(engine_a: Engine, engine_b: Engine, connection_id: uuid.UUID, total: int) -> None:
    """Two forwarders (own engines, as two processes) claim small batches at once until nothing is
    free; every row must go to exactly one of them."""
    asyncio.run(
        OutboxStore(engine_a).put(
            [OutboxEntry(connection_id=connection_id, message_ids=[f"m{i}"]) for i in range(total)]
        )
    )
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    async def claim_until_none_left(name: str, engine: Engine) -> None:
        store = OutboxStore(engine)
        misses = 0
        while misses < 3:
            claimed = await store.claim(name, lease=LEASE, limit=7)
            got[name].extend(c.id for c in claimed)
            misses = misses + 1 if not claimed else 0

    def claimer(name: str, engine: Engine) -> None:
        start.wait()
        asyncio.run(claim_until_none_left(name, engine))

    threads = [threading.Thread(target=claimer, args=(n, e)) for n, e in (("a", engine_a), ("b", engine_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got["a"]) + len(got["b"]) == total
    assert not set(got["a"]) & set(got["b"])
    assert got["a"] and got["b"], "one claimer got everything: the race was not exercised"
    with session_scope(engine_a) as session:
        owners = {i: owner for i, owner in session.execute(select(OutboxRow.id, OutboxRow.claimed_by))}
    assert all(owners[i] == "a" for i in got["a"]) and all(owners[i] == "b" for i in got["b"])


def test_concurrent_claimers_on_sqlite_never_share_a_row(engine, new_connection):
    other = create_db_engine(str(engine.url))
    try:
        claim_race(engine, other, uuid.UUID(new_connection()), 300)
    finally:
        other.dispose()


@pytest.mark.skipif(not available(), reason="PostgreSQL server binaries (initdb, pg_ctl) not installed")
def test_concurrent_claimers_on_postgresql_never_share_a_row():
    with running_postgres() as url:
        engine_a, engine_b = create_db_engine(url), create_db_engine(url)
        try:
            upgrade_to_head(engine_a)
            user_id, _token = add_user(engine_a)
            cid = uuid.UUID(add_connection(engine_a, user_id))
            claim_race(engine_a, engine_b, cid, 300)
            # And a lease that ran out is claimable there too (timestamps compare with their zone).
            with session_scope(engine_a) as session:
                session.execute(
                    update(OutboxRow).values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
                )
            assert len(asyncio.run(OutboxStore(engine_b).claim("c", lease=LEASE, limit=1000))) == 300
        finally:
            engine_a.dispose()
            engine_b.dispose()
