"""The parts of the local stack, in start stages, and how each one is started and checked."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config.settings import Settings
from stack.child import Child
from stack.config import REPO_ROOT, StackPaths, StackSettings
from stack.health import http_ok, trust, worker_polling
from stack.openbao import OpenBaoLayout
from stack.openbao_setup import AppRoleCredentials
from stack.temporal import TemporalDevServer, check_temporal
from telemetry.multiproc import fresh_multiproc_dir


@dataclass
class Service:
    """A long-running part: started, health-checked, restarted when it dies."""

    name: str
    endpoint: str
    command: list[str]
    check: Callable[[Child], Awaitable[object]]
    # True: gets the service env (Vault AppRole credentials etc.), which exists once OpenBao is up.
    service_env: bool = False
    after_healthy: Callable[[], Awaitable[None]] | None = None
    # File that must exist for this part to run (the app's modules appear as the app is built).
    requires: Path | None = None
    # False: output to its log file only (still shown as the last lines when it dies).
    echo: bool = True
    # True: it logs JSON lines (LOG_FORMAT=json); its log file gets only those, its console readable ones.
    json_lines: bool = False
    # Run before each start; returns variables added to the part's environment.
    prepare: Callable[[], dict[str, str]] | None = None


@dataclass
class Step:
    """A one-shot command run to completion before the services that need it."""

    name: str
    command: list[str]
    requires: Path | None = None
    service_env: bool = True
    timeout: float = 120.0


@dataclass
class Stack:
    """Everything the supervisor runs, with the values shared between parts."""

    settings: StackSettings
    paths: StackPaths
    service: Settings
    openbao: OpenBaoLayout
    temporal: TemporalDevServer
    credentials: AppRoleCredentials | None = None
    # Parts of one stage start together; a stage starts when the one before is healthy.
    stages: list[list[Service | Step]] = field(default_factory=list)

    @property
    def parts(self) -> list[Service | Step]:
        return [part for stage in self.stages for part in stage]

    @property
    def emulator_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.service.api_host}:{self.service.api_port}"


def codec_endpoint(service: Settings) -> str:
    """The API's codec server as the UI's page calls it. The browser makes that call with the API's
    session cookie, so it is the URL where the operator signed in (PUBLIC_BASE_URL), not the bind address.
    """
    return f"{service.public_base}/codec"


def build_stack(settings: StackSettings, paths: StackPaths, service: Settings) -> Stack:
    openbao = OpenBaoLayout(
        data_dir=paths.openbao, port=settings.openbao_port, cluster_port=settings.openbao_cluster_port
    )
    temporal = TemporalDevServer(
        data_dir=paths.temporal,
        port=settings.temporal_port,
        ui_port=settings.temporal_ui_port,
        namespace=service.temporal_namespace,
        ui_codec_endpoint=settings.temporal_ui_codec_endpoint or codec_endpoint(service),
    )
    stack = Stack(settings=settings, paths=paths, service=service, openbao=openbao, temporal=temporal)
    openbao.write_config()
    # OpenBao's banner and a single node's routine raft warnings ("cannot find peer") only alarm.
    openbao_part = Service("openbao", openbao.addr, openbao.command(), _openbao_check(stack), echo=False)
    temporal_part = Service("temporal", temporal.address, temporal.command(), _temporal_check(stack))
    emulator_part = Service(
        "emulator",
        stack.emulator_url,
        [
            sys.executable,
            "-m",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.emulator_port),
            "--data-dir",
            str(paths.emulator),
        ],
        _emulator_check(stack),
        after_healthy=_register_app(stack),
        requires=REPO_ROOT / "emulator" / "__main__.py",
    )
    migrate = Step("migrate", [sys.executable, "-m", "db.migrate"], requires=REPO_ROOT / "db" / "migrate.py")
    bootstrap = Step(
        "bootstrap",
        [sys.executable, "-m", "accounts.bootstrap"],
        requires=REPO_ROOT / "accounts" / "bootstrap.py",
    )
    api = Service(
        "api",
        stack.api_url,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            service.api_host,
            "--port",
            str(service.api_port),
            # Several processes: one event loop alone fell behind 200 webhook POSTs/s on this machine.
            # Everything they keep in memory is a per-process cache (subscription owners,
            # clientStates); the outbox lease keeps their forwarders off each other's rows.
            "--workers",
            str(service.api_workers),
        ],
        lambda _child: http_ok(f"{stack.api_url}/healthz"),
        service_env=True,
        requires=REPO_ROOT / "api" / "main.py",
        json_lines=True,
        # The workers' metrics, summed by whichever answers GET /metrics; emptied at each (re)start.
        prepare=lambda: fresh_multiproc_dir(paths.data_dir / "metrics" / "api"),
    )
    worker = Service(
        "worker",
        f"task queue {service.temporal_task_queue}",
        [sys.executable, "worker.py"],
        _worker_check(stack),
        service_env=True,
        requires=REPO_ROOT / "worker.py",
        json_lines=True,
    )
    # The servers do not depend on each other, and neither do the API and the worker: starting them
    # side by side saves seconds on every `make run`. The service parts need OpenBao's AppRole
    # credentials, the database schema and Temporal, hence the later stages.
    stack.stages = [[openbao_part, temporal_part, emulator_part], [migrate], [bootstrap], [api, worker]]
    return stack


def _openbao_check(stack: Stack) -> Callable[[Child], Awaitable[object]]:
    async def check(_child: Child) -> None:
        # Init (first start) or unseal (every start) and configure: a restarted OpenBao comes back sealed.
        _keys, stack.credentials = await asyncio.to_thread(stack.openbao.bootstrap, 30.0)

    return check


def _temporal_check(stack: Stack) -> Callable[[Child], Awaitable[object]]:
    async def check(_child: Child) -> None:
        await check_temporal(stack.temporal.address, stack.temporal.namespace)
        # The Web UI is part of what `make run` promises.
        await http_ok(stack.temporal.ui_url)

    return check


def _emulator_check(stack: Stack) -> Callable[[Child], Awaitable[object]]:
    async def check(_child: Child) -> None:
        # The CA is created by the emulator on its first start: trust it once it exists.
        if not stack.paths.emulator_ca.exists():
            raise RuntimeError(f"{stack.paths.emulator_ca} not written yet")
        await http_ok(f"{stack.emulator_url}/_emulator/health", verify=stack.paths.emulator_ca)

    return check


DEMO_MAILBOX = "ada@contoso.test"


def _register_app(stack: Stack) -> Callable[[], Awaitable[None]]:
    async def register() -> None:
        service = stack.service
        body = {
            "client_id": service.ms_client_id,
            "client_secret": service.ms_client_secret.get_secret_value(),
            "redirect_uris": [service.oauth_redirect_uri],
            "display_name": "outlook-integration (local)",
        }
        async with httpx.AsyncClient(verify=trust(stack.paths.emulator_ca), timeout=10) as client:
            response = await client.post(f"{stack.emulator_url}/_emulator/apps", json=body)
            if response.status_code not in (200, 201):
                # The body is the emulator's message about our request; it never echoes the secret.
                raise RuntimeError(f"registering the app with the emulator: HTTP {response.status_code}")
            # A mailbox to sign in as on the consent page, so a new user can connect one at once
            # (the emulator keeps an existing mailbox as it is).
            demo = {"email": DEMO_MAILBOX, "display_name": "Ada Lovelace (demo mailbox)"}
            response = await client.post(f"{stack.emulator_url}/_emulator/users", json=demo)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"adding the demo mailbox to the emulator: HTTP {response.status_code}")

    return register


def _worker_check(stack: Stack) -> Callable[[Child], Awaitable[object]]:
    async def check(child: Child) -> None:
        await worker_polling(
            stack.temporal.address,
            stack.service.temporal_namespace,
            stack.service.temporal_task_queue,
            since=child.started_at,
            pid=child.pid,
        )

    return check
