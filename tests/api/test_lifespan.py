"""The real lifespan (no overrides): it builds the Temporal client, the Microsoft HTTP client (trusting
MS_CA_BUNDLE) and the engine, runs the webhook outbox's forwarder, and /readyz answers 200 with them; on
exit it closes every client it opened. And `uvicorn api.main:app` serves.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from api.main import create_app
from config.settings import Settings
from db.engine import engine_from_settings
from db.migrate import upgrade_to_head
from tests.support.appdb import make_settings
from tests.support.opened import Opened
from tests.support.servers import free_port
from worker import build_worker

REPO_ROOT = Path(__file__).resolve().parents[2]


def migrate(settings: Settings) -> None:
    engine = engine_from_settings(settings)
    upgrade_to_head(engine)
    engine.dispose()


async def test_lifespan_clients_make_the_app_ready(tmp_path, temporal_env: Any, openbao: Any, emulator: Any):
    settings = make_settings(
        tmp_path,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"lifespan-{uuid.uuid4().hex[:8]}",
        vault_addr=openbao.addr,
        vault_role_id=openbao.role_id,
        vault_secret_id=openbao.secret_id,
        ms_authority=emulator.authority("common"),
        ms_ca_bundle=emulator.ca_path,
    )
    await asyncio.to_thread(migrate, settings)
    app = create_app(settings)
    async with (
        AsyncExitStack() as resources,
        build_worker(temporal_env.client, settings, resources),
        app.router.lifespan_context(app),
    ):
        assert app.state.temporal_client.namespace == settings.temporal_namespace
        # The webhook outbox's forwarder runs with the app and stops with it.
        forwarder = app.state.webhook_forwarder
        assert forwarder.running
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            deadline = time.monotonic() + 20
            while (
                response := await client.get("/readyz")
            ).status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    assert not forwarder.running


async def test_the_lifespan_closes_what_it_opened(tmp_path, emulator: Any, monkeypatch):
    settings = make_settings(
        tmp_path,
        temporal_address=f"127.0.0.1:{free_port()}",
        vault_addr=f"http://127.0.0.1:{free_port()}",
        ms_authority=emulator.authority("common"),
        ms_ca_bundle=emulator.ca_path,
    )
    engine = engine_from_settings(settings)
    await asyncio.to_thread(upgrade_to_head, engine)
    engine.dispose()
    opened = Opened(monkeypatch)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Each client in use: a pooled database connection, the Microsoft HTTP client, Vault's session,
        # MSAL's session (built by its first flow, from the emulator's discovery document).
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/readyz")).json()["checks"]["database"] == "ok"
        await app.state.identity.initiate_auth_code_flow(["Mail.Read"], settings.oauth_redirect_uri)
        assert opened.engines == [app.state.engine] and app.state.ms_http in opened.http_clients
        assert opened.still_open()
    assert opened.still_open() == []


async def test_uvicorn_serves_the_module_level_app(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        # Closed ports: never the servers of a `make run` that may be going on this machine.
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "VAULT_ADDR": f"http://127.0.0.1:{free_port()}",
        "MS_AUTHORITY": f"https://127.0.0.1:{free_port()}/common",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                assert process.poll() is None, "uvicorn exited"
                try:
                    response = await client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "uvicorn never answered"
                    await asyncio.sleep(0.3)
            assert response.json() == {"status": "ok"}
            # Nothing is up but the process: readiness says so, per part, rather than failing.
            ready = await client.get("/readyz", timeout=30)
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"] == "ok"
            assert all(checks[part] != "ok" for part in ("temporal", "worker", "vault", "microsoft"))
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
