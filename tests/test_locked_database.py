"""Nothing blocks the event loop (issue 16): a route or an activity whose write has to wait for SQLite's
write lock (held here by another connection, as a long transaction of another process would) waits in
a worker thread, so the loop serves everything else meanwhile. The check for stalls
(tests/support/loop_stalls.py) fails these tests if the wait happens on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from temporalio.testing import ActivityEnvironment

from activities.connection import ConnectionActivities
from api.main import create_app
from db.connections import Connection, OAuthFlow
from db.engine import session_scope
from payloads.connection import ConnectionStatus, StatusRecord
from tests.recipes.support import add_connection
from tests.support.appdb import add_user, make_settings, migrated_engine

pytestmark = pytest.mark.usefixtures("no_loop_stalls")

LOCK_SECONDS = 0.5


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = await asyncio.to_thread(migrated_engine, make_settings(tmp_path))
    yield engine
    engine.dispose()


class WriteLock:
    """Another connection's hold on the database's write lock: taken, then released LOCK_SECONDS later."""

    def __init__(self, engine: Engine) -> None:
        self._path = str(engine.url.database)
        self._taken = threading.Event()
        self._holder = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        connection = sqlite3.connect(self._path, timeout=1)
        connection.execute("BEGIN IMMEDIATE")
        self._taken.set()
        time.sleep(LOCK_SECONDS)
        connection.commit()
        connection.close()

    async def take(self) -> None:
        self._holder.start()
        assert await asyncio.to_thread(self._taken.wait, 10), "the write lock is held by someone else"

    async def released(self) -> None:
        await asyncio.to_thread(self._holder.join)


class LockingIdentity:
    """Microsoft's sign-in as far as starting a consent goes; the write lock is taken just before the
    route stores the flow."""

    def __init__(self, lock: WriteLock) -> None:
        self._lock = lock

    async def initiate_auth_code_flow(self, scopes: list[str], redirect_uri: str, **_: Any) -> dict[str, Any]:
        await self._lock.take()
        return {"state": uuid.uuid4().hex, "auth_uri": "https://login.example/authorize"}


class TransitStandIn:
    """Vault's part of storing a sign-in (TokenStore.seal_flow, tested against OpenBao in
    tests/e2e/test_oauth_flow_sealed.py): not what this test is about."""

    async def seal_flow(self, user_id: str, flow_json: str) -> str:
        return "vault:v1:" + uuid.uuid4().hex


async def test_connect_stores_its_sign_in_while_the_loop_serves(engine: Engine, tmp_path: Path) -> None:
    _user_id, token = await asyncio.to_thread(add_user, engine)
    app = create_app(make_settings(tmp_path))
    app.state.engine = engine
    lock = WriteLock(engine)
    app.state.identity = LockingIdentity(lock)
    app.state.token_store = TransitStandIn()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        started = time.monotonic()
        response = await client.post(
            "/connect/outlook", data={"scope": "incoming"}, headers={"Authorization": f"Bearer {token}"}
        )
        waited = time.monotonic() - started
        await lock.released()

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "https://login.example/authorize"
    assert waited >= LOCK_SECONDS * 0.8, "the write did not wait for the lock"
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OAuthFlow)) == 1


async def test_the_status_activity_writes_while_the_loop_serves(engine: Engine) -> None:
    user_id, _token = await asyncio.to_thread(add_user, engine)
    connection_id = await asyncio.to_thread(add_connection, engine, user_id)
    # Only the database is used by this activity; Graph and Vault are not reached.
    access: Any = SimpleNamespace(tokens=None, call=None)
    activities = ConnectionActivities(access, engine, "http://testserver")
    record = StatusRecord(
        connection_id=connection_id,
        status=ConnectionStatus.REVOKED,
        status_reason="consent revoked",
        subscription_expires_at=datetime(2031, 1, 2, tzinfo=UTC),
    )

    lock = WriteLock(engine)
    await lock.take()
    started = time.monotonic()
    await ActivityEnvironment().run(activities.record_connection_status, record)
    waited = time.monotonic() - started
    await lock.released()

    assert waited >= LOCK_SECONDS * 0.8, "the write did not wait for the lock"
    with session_scope(engine) as session:
        row = session.get_one(Connection, uuid.UUID(connection_id))
        assert (row.status, row.status_reason) == ("revoked", "consent revoked")
