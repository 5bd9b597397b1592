"""One deployment of the service for the scale-out benchmark: N API processes and M worker processes
behind one load balancer (bench/mail/balancer.py), sharing the stack's Temporal, OpenBao and emulator,
as docker-compose.yml's replicas share theirs.

Each deployment has what keeps it apart from the stack's own API and worker and from the other
deployment: its own task queue, its own app database (migrated once here, before any process starts,
as compose's app-init does), and its own app registration at the emulator (another client id, its
redirect URI on the balancer). Every process of it has the same settings, the balancer's URL as the
public one: browsers and the emulator's notifications reach an API through the balancer only.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from bench.mail.api_process import api_process, service_process
from bench.mail.worker_process import worker_process
from config.settings import Settings
from tests.e2e.conftest import Stack, register_service_app, service_settings
from tests.support.appdb import migrated_engine
from tests.support.servers import free_port

ACKNOWLEDGED = re.compile(
    r'^outlook_webhook_notifications_acknowledged_total\{endpoint="change"\} (\S+)$', re.M
)


@dataclass
class Deployment:
    name: str
    stack: Stack  # api_url is the balancer's
    api_urls: list[str]  # each API process's own address (its /metrics answers for it alone)
    workers: int


def acknowledged(metrics_text: str) -> float:
    """Change notifications one API process checked and stored, from its /metrics page."""
    found = ACKNOWLEDGED.search(metrics_text)
    return float(found.group(1)) if found else 0.0


async def acknowledged_per_api(deployment: Deployment) -> list[float]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [acknowledged((await http.get(f"{url}/metrics")).text) for url in deployment.api_urls]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def _balancer(settings: Settings, port: int, backends: list[int], log_path: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "bench.mail.balancer", "--port", str(port)]
    command += [arg for b in backends for arg in ("--backend", f"127.0.0.1:{b}")]
    with service_process(command, settings, log_path, lambda: _listening(port), stop_seconds=5):
        yield


@contextlib.asynccontextmanager
async def deployment(stack: Stack, name: str, apis: int, workers: int) -> AsyncIterator[Deployment]:
    """`apis` API processes (one uvicorn process each) and `workers` worker processes behind a balancer,
    from ready until the block ends (all stopped then)."""
    data_dir = stack.settings.data_dir / f"scale-{name}"
    data_dir.mkdir(parents=True, exist_ok=True)
    front = free_port()
    front_url = f"http://127.0.0.1:{front}"
    settings = service_settings(
        data_dir, front_url, stack.env, stack.openbao, stack.emulator, queue_prefix=f"bench-scale-{name}"
    ).model_copy(
        update={
            "ms_client_id": str(uuid.uuid4()),
            "ms_client_secret": SecretStr(f"bench-scale-{uuid.uuid4().hex}"),
            # A process per replica, as a container runs one; the replicas are the processes here.
            "api_workers": 1,
            # Replicas on one machine would all want 9464 (in containers each has its own).
            "worker_metrics_port": 0,
        }
    )
    engine = migrated_engine(settings)
    register_service_app(stack.emulator, settings, f"outlook-integration (bench scale-out {name})")
    ports = [free_port() for _ in range(apis)]
    try:
        with contextlib.ExitStack() as processes:
            urls = [
                processes.enter_context(api_process(settings, port, data_dir / f"api-{i}.log"))
                for i, port in enumerate(ports, 1)
            ]
            for i in range(1, workers + 1):
                processes.enter_context(worker_process(settings, data_dir / f"worker-{i}.log"))
            processes.enter_context(_balancer(settings, front, ports, data_dir / "balancer.log"))
            its = Stack(
                settings, engine, stack.env, stack.emulator, stack.openbao, front_url, data_dir / "api-1.log"
            )
            yield Deployment(name, its, urls, workers)
    finally:
        engine.dispose()
