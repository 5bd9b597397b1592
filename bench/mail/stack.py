"""The service as `make run` runs it, started by the benchmark on free ports and stopped afterwards:
Temporal dev server, OpenBao, the emulator, the real API and the real worker (each in its own process,
as `make run` runs them), plus a second worker for the naive design (in this process) on its own task
queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mailbox_access import MailboxAccess
from bench.mail import pool_waits
from bench.mail.api_process import ServiceProcess, api_process
from bench.mail.temporal_process import TemporalProcess
from bench.mail.worker_process import worker_process
from bench.naive.activities import NaiveActivities
from bench.naive.workflows import NaiveConnectionWorkflow, NaiveMessageWorkflow
from boards.store import BoardStore
from codec.aes_gcm import EncryptionCodec
from codec.converter import data_converter
from codec.keyring import Keyring
from codec.vault_keys import load_keyring
from config.settings import Settings
from db.engine import engine_from_settings
from stack.openbao import OpenBaoServer
from tests.e2e.conftest import Stack, register_service_app, service_settings
from tests.e2e.helpers import running_api
from tests.support.appdb import migrated_engine
from tests.support.emulator_server import RunningEmulator, start_emulator
from tests.support.servers import free_port
from vault.client import VaultClient

NAIVE_QUEUE = "bench-naive"
# The product worker process of each running stack, by its task queue: the chaos suite stops and
# starts it (chaos/).
_PRODUCT_WORKERS: dict[str, ServiceProcess] = {}
# The Temporal dev server of each stack started with `temporal_process=True`, by its address.
_TEMPORAL_SERVERS: dict[str, TemporalProcess] = {}


def product_worker(stack: Stack) -> ServiceProcess:
    """The product's worker process serving `stack` (stop() and start() it to take it away and back)."""
    return _PRODUCT_WORKERS[stack.settings.temporal_task_queue]


def temporal_server(stack: Stack) -> TemporalProcess:
    """The Temporal dev server process of a stack started with `temporal_process=True` (stop() and
    start() it to restart it on the same port and SQLite file)."""
    return _TEMPORAL_SERVERS[stack.settings.temporal_address]


def _naive_worker(stack: Stack) -> Worker:
    settings = stack.settings
    access = MailboxAccess.from_settings(settings)
    engine = engine_from_settings(settings)
    naive = NaiveActivities(access, engine, BoardStore(engine))
    return Worker(
        stack.env.client,
        task_queue=NAIVE_QUEUE,
        workflows=[NaiveConnectionWorkflow, NaiveMessageWorkflow],
        activities=naive.all(),
    )


@contextlib.asynccontextmanager
async def _api(settings: Settings, port: int, data_dir: Path, in_process: bool) -> AsyncIterator[str]:
    """The API on `port`: its own process by default (as `make run`), or uvicorn in this process."""
    if not in_process:
        with api_process(settings, port, data_dir / "api.log") as url:
            yield url
        return
    async with running_api(settings) as (_app, url):  # on settings.public_base_url's port
        yield url


async def _keyring(openbao: OpenBaoServer) -> Keyring:
    """The random keyring the bench's OpenBao setup made, read as the API and worker read it."""
    vault = VaultClient(openbao.addr, openbao.role_id, SecretStr(openbao.secret_id))
    try:
        return await load_keyring(vault)
    finally:
        vault.close()


@contextlib.asynccontextmanager
async def running_stack(
    *,
    api_in_process: bool = False,
    naive: bool = True,
    temporal_process: bool = False,
    database_url: str = "",
) -> AsyncIterator[Stack]:
    """The whole service on free ports; `naive=False` leaves out the naive design's worker (only the
    benchmark compares against it). Temporal is the dev server as `make run` starts it (stack/temporal.py:
    its own process, its SQLite file in this run's temporary directory, not an in-memory one), which
    `temporal_server(stack)` stops and starts again. `temporal_process` is kept for callers: both values
    now start it so (until 2026-12-06 False meant the SDK's in-memory dev server). `database_url` is the
    app database's DATABASE_URL for the API, the worker and the benchmark ("": the default install's
    SQLite file in the run's directory); Temporal keeps its SQLite file either way."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    # OpenBao first: the benchmark's own client encrypts payloads with the keys the service uses.
    openbao = OpenBaoServer.create(data_dir / "openbao", port=free_port(), cluster_port=free_port()).start()
    temporal: TemporalProcess | None = None
    try:
        converter = data_converter(EncryptionCodec(await _keyring(openbao)))
        temporal = TemporalProcess.create(data_dir / "temporal")
        await temporal.start()
        client = await Client.connect(temporal.address, data_converter=converter)
        env = WorkflowEnvironment.from_client(client)
        _TEMPORAL_SERVERS[temporal.address] = temporal
    except BaseException:
        if temporal is not None:
            temporal.stop()
        openbao.stop()
        raise
    emulator = start_emulator(data_dir / "emulator", access_token_lifetime_min=60)
    try:
        async with _service(data_dir, env, openbao, emulator, api_in_process, naive, database_url) as stack:
            yield stack
    finally:
        emulator.stop()
        openbao.stop()
        await env.shutdown()
        if temporal is not None:
            _TEMPORAL_SERVERS.pop(temporal.address, None)
            temporal.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def _service(
    data_dir: Path,
    env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    emulator: RunningEmulator,
    in_process: bool,
    naive: bool,
    database_url: str,
) -> AsyncIterator[Stack]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    settings = service_settings(data_dir, api_url, env, openbao, emulator, queue_prefix="bench")
    # The API and worker processes get it as DATABASE_URL (api_process.settings_env). The worker serves
    # its metrics as under `make run`, on a port of its own so a running `make run` keeps 9464.
    settings = settings.model_copy(update={"database_url": database_url, "worker_metrics_port": free_port()})
    engine = migrated_engine(settings)
    register_service_app(emulator, settings, "outlook-integration (bench)")
    logging.getLogger().setLevel(logging.WARNING)
    async with _api(settings, port, data_dir, in_process) as served:
        stack = Stack(settings, engine, env, emulator, openbao, served, data_dir / "api.log")
        naive_worker = _naive_worker(stack) if naive else None
        task = asyncio.create_task(naive_worker.run()) if naive_worker else None
        queue = settings.temporal_task_queue
        try:
            with worker_process(settings, data_dir / "worker.log") as worker:
                # Its thread pool's queue is read per phase (SIGUSR1; bench/mail/pool_waits.py).
                pool_waits.register(queue, worker)
                _PRODUCT_WORKERS[queue] = worker
                try:
                    yield stack
                finally:
                    pool_waits.unregister(queue)
                    _PRODUCT_WORKERS.pop(queue, None)
        finally:
            if naive_worker is not None and task is not None:
                await naive_worker.shutdown()
                with contextlib.suppress(Exception):
                    await task
        engine.dispose()
