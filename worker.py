"""`python worker.py`: the Temporal worker. Builds the clients once, registers workflows and activities.

What runs here is listed in one place, `workflows()` and `activities()` below: add new ones there.
SIGTERM and SIGINT stop polling, let running activities finish (up to the graceful timeout), then close
what the worker opened (database engine, Vault clients, HTTP clients) and exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.envconfig import ClientConnectConfig
from temporalio.worker import Worker

import worker_pool
from activities.catch_up import CatchUpActivities
from activities.connection import ConnectionActivities
from activities.destinations import Destinations
from activities.folders import AllowedFolders
from activities.health import HealthActivities
from activities.mailbox_access import MailboxAccess
from activities.message_legacy import LegacyMessageActivities
from activities.message_starts import start_message_workflows
from activities.message_steps import MessageSteps
from activities.message_writes import MessageWrites
from activities.recipe_cache import RecipeCache
from activities.redo_candidates import RedoCandidateActivities
from activities.send_email import SendEmailActivities
from audit.record import TokenReads
from boards.builtin import BuiltinBoards
from boards.monday.destination import MondayBoards
from boards.monday.token_store import MondayTokenStore
from boards.store import BoardStore
from codec.converter import data_converter
from codec.vault_keys import load_keyring, vault_codec
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import temporal_connect_config
from db.engine import engine_from_settings
from telemetry.worker_server import start_worker_metrics
from vault.client import VaultClient
from vault.errors import VaultUnavailable
from workflows.connection import ConnectionWorkflow
from workflows.message import MessageWorkflow
from workflows.send_email import SendEmailWorkflow

log = logging.getLogger("worker")

CONNECT_RETRY_SECONDS = 2.0
GRACEFUL_SHUTDOWN = timedelta(seconds=20)


def workflows() -> Sequence[type]:
    return [ConnectionWorkflow, MessageWorkflow, SendEmailWorkflow]


def activities(settings: Settings, resources: AsyncExitStack) -> Sequence[Callable[..., Any]]:
    """The activity classes, each built once with the process's shared clients; `resources` closes those
    clients (after the worker has stopped)."""
    health = HealthActivities(settings)
    engine = engine_from_settings(settings)
    resources.callback(engine.dispose)
    # Every read of a connection's tokens is audited (which activity, which workflow run).
    access = MailboxAccess.from_settings(settings, on_token_read=TokenReads(engine))
    resources.push_async_callback(access.aclose)
    connection = ConnectionActivities(access, engine, settings.public_base)
    # Well-known folder ids, resolved once per connection, for the folder check and the catch-up alike;
    # the engine lets the check also allow the folders the connection's recipes watch.
    folders = AllowedFolders(access, engine)
    recipes = RecipeCache(engine)
    steps = MessageSteps(access, engine, recipes, folders)
    monday = monday_boards(settings, engine, resources)
    writes = MessageWrites(access, recipes, Destinations(BuiltinBoards(BoardStore(engine)), monday))
    catch_up = CatchUpActivities(access, engine, folders)
    # `start_message_workflows` and the legacy activities serve workflows started by earlier releases.
    legacy = [start_message_workflows, *LegacyMessageActivities(steps, writes).all()]
    # The same monday.com client reads the items of monday.com board events an email renders from.
    sends = SendEmailActivities(access, engine, monday=monday)
    return [
        health.check_vault_login,
        *connection.all(),
        *steps.all(),
        *writes.all(),
        *catch_up.all(),
        # Catch-up's redos: dead-grant failures after a reconnect, workflows closed without an outcome.
        *RedoCandidateActivities(engine).all(),
        *sends.all(),
        *legacy,
    ]


def monday_boards(settings: Settings, engine: Engine, resources: AsyncExitStack) -> MondayBoards:
    """monday.com for accounts that linked it (its tokens in Vault, its API over one HTTP client): the
    destination of incoming recipes, and where outgoing recipes read a monday.com item."""
    vault = VaultClient.from_settings(settings)
    resources.callback(vault.close)
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
    resources.push_async_callback(http.aclose)
    return MondayBoards(engine, MondayTokenStore(vault), http)


async def connect(
    settings: Settings, resources: AsyncExitStack, config: ClientConnectConfig | None = None
) -> Client:
    """The client with the payload codec; its keyring is read from Vault first, so a worker that could
    not decrypt payloads never takes a workflow task. `config`: Client.connect's address, namespace, TLS
    and API key (config/temporal.py), read from the environment when not given. The Vault client the
    codec keeps is closed by `resources`."""
    config = temporal_connect_config(settings) if config is None else config
    vault = VaultClient.from_settings(settings)  # kept for the codec's reload after a rotation
    try:
        keyring = await load_keyring(vault, settings.vault_kv_mount)
        client = await Client.connect(
            **config, data_converter=data_converter(vault_codec(vault, settings.vault_kv_mount, keyring))
        )
    except BaseException:
        vault.close()
        raise
    resources.callback(vault.close)
    return client


def build_worker(client: Client, settings: Settings, resources: AsyncExitStack) -> Worker:
    """The worker; `resources` closes the activities' clients: close it after the worker has stopped."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=workflows(),
        activities=activities(settings, resources),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def _connect_until_stopped(
    settings: Settings, stop: asyncio.Event, resources: AsyncExitStack
) -> Client | None:
    # Read once, before trying: a mistake in the Temporal client configuration stops the worker at once.
    config = temporal_connect_config(settings)
    # Temporal or Vault may start after us (or restart): keep trying instead of dying into a restart loop.
    while not stop.is_set():
        try:
            return await connect(settings, resources, config)
        except RuntimeError as exc:
            log.warning("temporal at %s not reachable yet (%s); retrying", config.get("target_host"), exc)
        except VaultUnavailable as exc:  # its message names the operation only, never a secret
            log.warning("vault at %s not reachable yet (%s); retrying", settings.vault_addr, exc)
        try:
            await asyncio.wait_for(stop.wait(), CONNECT_RETRY_SECONDS)
        except TimeoutError:
            pass
    return None


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Runs until `stop` is set (without one: until SIGTERM or SIGINT), then closes what it opened."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    # Closed in reverse order of opening, after the worker has stopped (its activities may use them).
    async with AsyncExitStack() as resources:
        client = await _connect_until_stopped(settings, stop, resources)
        if client is None:
            return
        async with build_worker(client, settings, resources):
            log.info(
                "polling task queue %s on %s, namespace %s",
                settings.temporal_task_queue,
                client.service_client.config.target_host,
                client.namespace,
            )
            await stop.wait()
            log.info("stopping: finishing running activities")
    log.info("worker stopped")


async def serve(settings: Settings) -> None:
    """The process: `run` on a loop whose blocking calls get WORKER_IO_THREADS threads (worker_pool.py);
    how long they waited for one is logged on SIGUSR1 and once the worker has stopped."""
    pool = worker_pool.install(settings)
    # Before run() connects: the Temporal SDK's metrics need their runtime in place first.
    metrics = start_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)
    try:
        await run(settings)
    finally:
        if metrics is not None:
            metrics.close()
        worker_pool.log_waits(pool)


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
