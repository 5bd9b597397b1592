"""A burst for a connection the process has not seen yet costs one clientState read and one
subscription lookup, not one per notification (real SQLite; the clientState loader is the Vault
token store's signature, counted)."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import SecretStr
from sqlalchemy import Engine, event

from db.connections import Connection
from db.engine import session_scope
from webhooks.directory import Owner, SubscriptionDirectory
from webhooks.verify import ClientStateCache, digest


async def test_concurrent_gets_share_one_read() -> None:
    reads: list[str] = []

    async def load(connection_id: str) -> SecretStr:
        reads.append(connection_id)
        await asyncio.sleep(0.05)  # a Vault round trip
        return SecretStr(f"state-{connection_id}")

    now = [0.0]
    cache = ClientStateCache(load, clock=lambda: now[0])
    values = await asyncio.gather(*(cache.get("c1") for _ in range(20)), cache.get("c2"))
    assert reads == ["c1", "c2"]
    # Only digests are kept in memory, never the clientState itself.
    assert set(values) == {digest(SecretStr("state-c1")), digest(SecretStr("state-c2"))}
    # A fresh read (after a mismatch) still reads again, once the refresh interval has passed.
    now[0] += cache.refresh_interval
    await cache.get("c1", fresh=True)
    assert reads == ["c1", "c2", "c1"]


async def test_concurrent_lookups_of_a_new_subscription_query_once(engine: Engine, new_connection) -> None:
    connection_id = new_connection()
    with session_scope(engine) as session:
        row = session.get(Connection, uuid.UUID(connection_id))
        assert row is not None
        row.subscription_id = "sub-1"
    selects: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: (
            selects.append(statement) if "subscription_id" in statement else None
        ),
    )
    directory = SubscriptionDirectory(engine)
    found = await asyncio.gather(*(directory.connections_for(["sub-1", "unknown"]) for _ in range(20)))
    assert all(f == {"sub-1": Owner(connection_id, None)} for f in found)
    assert len(selects) == 1, selects
