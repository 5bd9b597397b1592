"""The service as it runs in production, in this test process: the real API (uvicorn on a free port, so
Graph's emulator can reach its webhooks) and the real worker, against a real Temporal dev server, a real
OpenBao and the Microsoft emulator. Only the processes are shared; each test makes its own users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

import worker
from api.main import create_app
from config.logging import RedactSecrets, install_redaction
from config.settings import Settings
from stack.openbao import OpenBaoServer
from telemetry.json_logs import JsonFormatter
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.emulator_server import RunningEmulator
from tests.support.servers import free_port

CLIENT_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_SECRET = "e2e-client-secret-" + uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _event_loop_never_blocked(no_loop_stalls: None) -> None:
    """Every test here fails if one callback held the event loop for 100 ms (tests/support/loop_stalls.py):
    the API and the worker share the test's loop, so any of them blocking it is caught."""


def service_settings(
    data_dir: Path,
    api_url: str,
    env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    emulator: RunningEmulator,
    *,
    queue_prefix: str,
) -> Settings:
    """The API's and worker's settings for servers started by a test or a benchmark."""
    return make_settings(
        data_dir,
        public_base_url=api_url,
        temporal_address=env.client.service_client.config.target_host,
        temporal_task_queue=f"{queue_prefix}-{uuid.uuid4().hex[:8]}",
        vault_addr=openbao.addr,
        vault_role_id=openbao.role_id,
        vault_secret_id=openbao.secret_id,
        ms_authority=emulator.authority(),
        ms_graph_base_url=emulator.graph_url,
        ms_client_id=CLIENT_ID,
        ms_client_secret=CLIENT_SECRET,
        ms_ca_bundle=emulator.ca_path,
    )


def register_service_app(emulator: RunningEmulator, settings: Settings, display_name: str) -> None:
    """Registers the service with the emulator (its settings' client id, secret and redirect URI), as
    `make run` does."""
    with emulator.client() as control:
        registered = control.post(
            "/_emulator/apps",
            json={
                "client_id": settings.ms_client_id,
                "client_secret": settings.ms_client_secret.get_secret_value(),
                "redirect_uris": [settings.oauth_redirect_uri],
                "display_name": display_name,
            },
        )
        assert registered.status_code in (200, 201), registered.text


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    env: WorkflowEnvironment
    emulator: RunningEmulator
    openbao: OpenBaoServer
    api_url: str
    log_path: Path

    def browser(self) -> httpx.AsyncClient:
        """A client that follows redirects across the API and the emulator, like a browser."""
        context = ssl.create_default_context(cafile=str(self.emulator.ca_path))
        return httpx.AsyncClient(verify=context, follow_redirects=True, timeout=30.0)

    def emulator_control(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.emulator.ca_path))
        return httpx.AsyncClient(base_url=self.emulator.base_url, verify=context, timeout=30.0)

    async def signed_in_user(self, email: str) -> tuple[httpx.AsyncClient, str]:
        """A new account whose user is signed in (session cookie) in a fresh browser; and its API token."""
        _user_id, token = add_user(self.engine, account_name=uuid.uuid4().hex[:8], email=email)
        browser = self.browser()
        response = await browser.post(f"{self.api_url}/signin", data={"token": token})
        assert response.status_code == 200, response.text
        return browser, token


@pytest.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    emulator: RunningEmulator,
) -> AsyncIterator[Stack]:
    data_dir = tmp_path_factory.mktemp("e2e")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    settings = service_settings(data_dir, api_url, temporal_env, openbao, emulator, queue_prefix="e2e")
    engine = migrated_engine(settings)
    register_service_app(emulator, settings, "outlook-integration (e2e)")

    # Every log line of the service goes to a file, so the leak scan can read what an operator would.
    log_path = data_dir / "service.log"
    handler = logging.FileHandler(log_path)
    # As `make run` writes them (LOG_FORMAT=json): the leak scans read JSON lines, escapes and all.
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    install_redaction()

    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    resources = contextlib.AsyncExitStack()  # the worker's activities' clients, closed after it stopped
    the_worker = worker.build_worker(temporal_env.client, settings, resources)
    running = asyncio.create_task(the_worker.run())
    try:
        yield Stack(settings, engine, temporal_env, emulator, openbao, api_url, log_path)
    finally:
        await the_worker.shutdown()
        with contextlib.suppress(Exception):
            await running
        await resources.aclose()
        server.should_exit = True
        await serving
        root.removeHandler(handler)
        handler.close()
        engine.dispose()


@pytest.fixture
async def faults_cleared(stack: Stack) -> AsyncIterator[None]:
    """The emulator's faults are emulator-wide: a test that sets them starts and ends without any."""
    from tests.e2e.helpers import clear_faults  # helpers imports this module

    await clear_faults(stack)
    yield
    await clear_faults(stack)
