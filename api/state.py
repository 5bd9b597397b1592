"""The clients the lifespan builds once per process and keeps on app.state."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from activities.mailbox_access import MailboxAccess
from api.board_event_forwarder import BoardEventForwarder
from api.webhook_forwarder import WebhookForwarder
from audit.record import TokenReads
from boards.monday.token_store import MondayTokenStore
from codec.converter import data_converter
from codec.vault_keys import vault_codec
from config.executor import MeasuredThreadPool
from config.logging import configure_logging
from config.settings import Settings
from config.temporal import temporal_connect_config
from db.engine import engine_from_settings
from graph.http_client import build_http_client
from graph.identity import Identity
from graph.mail import GraphMail
from vault.client import VaultClient
from vault.token_store import TokenStore
from webhooks.directory import SubscriptionDirectory
from webhooks.outbox import Outbox
from webhooks.verify import ClientStateCache, Verifier, single_tenant

IO_THREADS = 32
log = logging.getLogger("api.state")


def microsoft_http_client(settings: Settings) -> httpx.AsyncClient:
    """For the Microsoft identity platform (the emulator locally, whose CA is ms_ca_bundle)."""
    verify: ssl.SSLContext | bool = True
    if settings.ms_ca_bundle:
        verify = ssl.create_default_context(cafile=str(settings.ms_ca_bundle))
    return httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(10.0), follow_redirects=False)


async def temporal_client(settings: Settings, codec: PayloadCodec | None = None) -> Client:
    """The client with the payload codec: the given one, else one whose keyring is read from Vault.
    Address, namespace, TLS and API key as Temporal's environment configuration says (config/temporal.py)."""
    config = temporal_connect_config(settings)
    if codec is None:
        codec = vault_codec(VaultClient.from_settings(settings), settings.vault_kv_mount)
    # lazy: the API starts (and /readyz can say what is missing) while Temporal is still coming up.
    return await Client.connect(**config, data_converter=data_converter(codec), lazy=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Here rather than at import, so importing the app (tests, tools) leaves logging alone.
    configure_logging(settings)
    # Database and Vault calls (blocking clients) run in threads; asyncio's default of cpu+4 threads
    # made the webhook's requests queue for a thread while the threads waited on I/O.
    # Measured (config/executor.py): how long calls waited for a thread is logged when the app stops.
    pool = MeasuredThreadPool(IO_THREADS, thread_name_prefix="api-io")
    asyncio.get_running_loop().set_default_executor(pool)
    # Everything opened here is closed when the app stops, in reverse order: the forwarder first (a round
    # in progress finishes or is cancelled before the engine goes), the engine last.
    async with AsyncExitStack() as resources:
        resources.callback(lambda: log.info("thread pool %s: %s", pool.name, pool.waits().summary()))
        engine = engine_from_settings(settings)
        resources.callback(engine.dispose)
        app.state.engine = engine
        app.state.ms_http = await resources.enter_async_context(microsoft_http_client(settings))
        vault = VaultClient.from_settings(settings)
        resources.callback(vault.close)
        # The keyring is read from Vault on first use, like Temporal's lazy connection: the API
        # starts while Vault is still coming up. The codec endpoints use the same codec.
        app.state.payload_codec = vault_codec(vault, settings.vault_kv_mount)
        app.state.temporal_client = await temporal_client(settings, app.state.payload_codec)
        # Every read of a connection's tokens is audited (the request and its user).
        app.state.token_store = TokenStore(vault, on_read=TokenReads(engine))
        app.state.monday_tokens = MondayTokenStore(vault)
        app.state.identity = Identity.from_settings(settings)
        resources.callback(app.state.identity.close)
        # Graph for the routes that read a mailbox (folders, dry runs): the worker's client, with its
        # per-mailbox limiter and one refresh on a 401, over this process's token store and identity.
        graph_http = await resources.enter_async_context(build_http_client(settings.ms_ca_bundle))
        app.state.mailbox_access = MailboxAccess(
            app.state.token_store, app.state.identity, GraphMail(graph_http, settings.ms_graph_base_url)
        )
        app.state.webhook_verifier = Verifier(
            ClientStateCache(app.state.token_store.load_client_state),
            tenant_id=single_tenant(settings.ms_authority),
        )
        app.state.subscription_directory = SubscriptionDirectory(engine)
        app.state.webhook_outbox = Outbox(engine)
        # Every API process forwards the outbox (its own rows at once, others' by polling).
        forwarder = WebhookForwarder(app.state.webhook_outbox, app.state.temporal_client)
        app.state.webhook_forwarder = forwarder
        forwarder.start()
        resources.push_async_callback(forwarder.stop)
        # And board events to the connection workflows of the recipes that send email on them.
        board_events = BoardEventForwarder(engine, app.state.temporal_client)
        app.state.board_event_forwarder = board_events
        board_events.start()
        resources.push_async_callback(board_events.stop)
        yield
