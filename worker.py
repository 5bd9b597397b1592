"""`python worker.py`: the Temporal worker. Builds the clients once, registers workflows and activities.

What runs here is listed in one place, `workflows()` and `activities()` below: add new ones there.
SIGTERM and SIGINT stop polling, let running activities finish (up to the graceful timeout), then exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.connection import ConnectionActivities
from activities.health import HealthActivities
from activities.mailbox_access import MailboxAccess
from activities.message_starts import start_message_workflows
from activities.messages import MessageActivities
from boards.store import BoardStore
from config.logging import configure_logging
from config.settings import Settings, get_settings
from db.engine import engine_from_settings
from workflows.connection import ConnectionWorkflow
from workflows.message import MessageWorkflow

log = logging.getLogger("worker")

CONNECT_RETRY_SECONDS = 2.0
GRACEFUL_SHUTDOWN = timedelta(seconds=20)


def workflows() -> Sequence[type]:
    return [ConnectionWorkflow, MessageWorkflow]


def activities(settings: Settings) -> Sequence[Callable[..., Any]]:
    """The activity classes, each built once with the process's shared clients."""
    health = HealthActivities(settings)
    access = MailboxAccess.from_settings(settings)
    engine = engine_from_settings(settings)
    connection = ConnectionActivities(access, engine, settings.public_base_url)
    messages = MessageActivities(access, engine, BoardStore(engine))
    return [health.check_vault_login, start_message_workflows, *connection.all(), *messages.all()]


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=workflows(),
        activities=activities(settings),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def _connect_until_stopped(settings: Settings, stop: asyncio.Event) -> Client | None:
    # Temporal may start after us (or restart): keep trying instead of dying into a restart loop.
    while not stop.is_set():
        try:
            return await connect(settings)
        except RuntimeError as exc:
            log.warning("temporal at %s not reachable yet (%s); retrying", settings.temporal_address, exc)
        try:
            await asyncio.wait_for(stop.wait(), CONNECT_RETRY_SECONDS)
        except TimeoutError:
            pass
    return None


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await _connect_until_stopped(settings, stop)
    if client is None:
        return
    async with build_worker(client, settings):
        log.info("polling task queue %s on %s", settings.temporal_task_queue, settings.temporal_address)
        await stop.wait()
        log.info("stopping: finishing running activities")
    log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
