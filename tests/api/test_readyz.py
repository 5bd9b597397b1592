"""GET /readyz against the real parts: Temporal dev server + a worker, OpenBao, the emulator, SQLite.

All up gives 200; each part pointed at a closed port (or refused) gives 503 naming that part, with a
short reason and no secret in it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.state import microsoft_http_client, temporal_client
from config.settings import Settings
from db.engine import create_db_engine
from tests.support.appdb import make_settings, migrated_engine
from tests.support.servers import free_port
from worker import build_worker

PARTS = {"temporal", "worker", "vault", "microsoft", "database"}


@pytest.fixture(scope="module")
def ready_overrides(temporal_env: Any, openbao: Any, emulator: Any) -> dict[str, Any]:
    """Settings values that point every part at the running servers, one task queue for this module."""
    return {
        "temporal_address": temporal_env.client.service_client.config.target_host,
        "temporal_task_queue": f"readyz-{uuid.uuid4().hex[:8]}",
        "vault_addr": openbao.addr,
        "vault_role_id": openbao.role_id,
        "vault_secret_id": openbao.secret_id,
        "ms_authority": emulator.authority("common"),
        "ms_ca_bundle": emulator.ca_path,
    }


@pytest.fixture(scope="module")
async def running_worker(temporal_env: Any, ready_overrides: dict[str, Any], tmp_path_factory):
    """The real worker (worker.build_worker) polling the module's task queue."""
    settings = make_settings(tmp_path_factory.mktemp("worker"), **ready_overrides)
    async with AsyncExitStack() as resources, build_worker(temporal_env.client, settings, resources):
        yield


@asynccontextmanager
async def readyz_client(
    settings: Settings, database_url: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the clients its lifespan would build from these settings."""
    # Migrating is the test's arrangement: off the loop, which the check for stalls watches.
    engine = (
        create_db_engine(database_url) if database_url else await asyncio.to_thread(migrated_engine, settings)
    )
    app = create_app(settings)
    temporal = await temporal_client(settings)
    async with microsoft_http_client(settings) as ms_http:
        app.state.engine = engine
        app.state.temporal_client = temporal
        app.state.ms_http = ms_http
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client
        finally:
            engine.dispose()


async def get_readyz(settings: Settings, database_url: str | None = None, want: int = 200) -> httpx.Response:
    """Asks until the answer is `want` (a new worker takes a moment to show as a poller), else the last."""
    deadline = time.monotonic() + 20
    async with readyz_client(settings, database_url) as client:
        while True:
            response = await client.get("/readyz")
            if response.status_code == want or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.5)


async def test_ready_when_every_part_answers(tmp_path, ready_overrides, running_worker):
    response = await get_readyz(make_settings(tmp_path, **ready_overrides))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": dict.fromkeys(PARTS, "ok")}


def _closed_http(scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("overrides", "failing", "reason"),
    [
        (lambda: {"temporal_address": f"127.0.0.1:{free_port()}"}, {"temporal", "worker"}, "unreachable"),
        (lambda: {"temporal_task_queue": "nobody-polls-this"}, {"worker"}, "no worker polls task queue"),
        (lambda: {"vault_addr": _closed_http()}, {"vault"}, "unreachable"),
        (lambda: {"vault_secret_id": "wrong-secret-id-0123456789"}, {"vault"}, "AppRole login refused"),
        (lambda: {"ms_authority": _closed_http("https") + "/common"}, {"microsoft"}, "authority unreachable"),
    ],
    ids=["temporal-down", "no-worker", "vault-down", "vault-bad-approle", "microsoft-down"],
)
async def test_each_missing_part_is_named(
    tmp_path, ready_overrides, running_worker, overrides, failing, reason
):
    extra = overrides()
    response = await get_readyz(make_settings(tmp_path, **{**ready_overrides, **extra}), want=503)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert {part for part, result in body["checks"].items() if result != "ok"} == failing
    assert all(reason in body["checks"][part] or part == "worker" for part in failing)
    assert "wrong-secret-id" not in response.text
    assert ready_overrides["vault_secret_id"] not in response.text


async def test_database_down_is_named_without_its_password(tmp_path, ready_overrides, running_worker):
    url = f"postgresql://app:db-password-123@127.0.0.1:{free_port()}/app"
    response = await get_readyz(make_settings(tmp_path, **ready_overrides), database_url=url, want=503)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"].startswith("unavailable") and "db-password-123" not in response.text
    assert {part for part, result in checks.items() if result != "ok"} == {"database"}


async def test_everything_down(tmp_path):
    settings = make_settings(
        tmp_path,
        temporal_address=f"127.0.0.1:{free_port()}",
        vault_addr=_closed_http(),
        ms_authority=_closed_http("https") + "/common",
        vault_role_id="r",
        vault_secret_id="s",
    )
    response = await get_readyz(settings, want=503)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert set(checks) == PARTS
    assert checks["database"] == "ok"
    assert all(checks[part] != "ok" for part in PARTS - {"database"})
