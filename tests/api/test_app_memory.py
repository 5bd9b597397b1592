"""An app that served requests keeps nothing alive once it is dropped, its engine included. The test
session builds about a thousand apps in one process; a reference kept per app (a module-level cache keyed
by a per-app callable, as FastAPI's dependency caches are) kept each test's engine, its compiled
statements and its schema for the rest of the session, and every garbage collection walked them: by the
end one took 4.8 s and failed a test for a stalled event loop."""

from __future__ import annotations

import asyncio
import gc
import weakref

import httpx

from api.main import create_app
from tests.support.appdb import add_user, migrated_engine


async def test_a_dropped_app_frees_its_engine(settings) -> None:
    engine = await asyncio.to_thread(migrated_engine, settings)
    _user_id, token = await asyncio.to_thread(add_user, engine, account_name="acme", role="admin")
    app = create_app(settings)
    app.state.engine = engine  # what the lifespan would put there; ASGITransport runs no lifespan
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/api/boards", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text

    engine.dispose()
    engine_ref, app_ref = weakref.ref(engine), weakref.ref(app)
    del engine, app, client, response
    gc.collect()

    assert app_ref() is None, "something outside the app still holds it"
    assert engine_ref() is None, "something outside the app still holds its engine"
