"""The activities as the worker builds them (worker.activities()), run one at a time in
`temporalio.testing.ActivityEnvironment`, against real components: the Microsoft emulator (identity and
Graph), OpenBao, a migrated SQLite application database and the built-in board store.

No Temporal worker and no connection workflow run here: a mailbox is connected by the real OAuth code
flow against the emulator (tests/graph/support.py drives the consent), its tokens stored in OpenBao with
the real TokenStore and its row written as the API's connect step writes it. So the emulator's request
log and the database hold exactly what the activity under test did.

The service's settings are the e2e ones (tests/e2e/conftest.py `service_settings`), with an app
registration of our own, so registering it never replaces the redirect URI of the e2e stack's app when
both run in one session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from stack.openbao import OpenBaoServer
from tests.activities.support import SHORT_TOKEN_SECONDS, World, build_world, own_app_settings, register_app
from tests.e2e.conftest import service_settings
from tests.support.appdb import migrated_engine
from tests.support.emulator_server import RunningEmulator, start_emulator
from tests.support.servers import free_port


@pytest.fixture(scope="session")
def activity_settings(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    emulator: RunningEmulator,
) -> Settings:
    data_dir = tmp_path_factory.mktemp("activities")
    base = service_settings(
        data_dir,
        f"http://127.0.0.1:{free_port()}",
        temporal_env,
        openbao,
        emulator,
        queue_prefix="activities",
    )
    settings = own_app_settings(base)
    register_app(emulator, settings)
    return settings


@pytest.fixture(scope="session")
def activity_engine(activity_settings: Settings) -> Iterator[Engine]:
    engine = migrated_engine(activity_settings)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
async def world(
    activity_settings: Settings, activity_engine: Engine, emulator: RunningEmulator
) -> AsyncIterator[World]:
    """The worker's activity classes with fresh clients (nothing cached from another test); the
    emulator's faults (emulator-wide) are cleared before and after."""
    async with build_world(activity_settings, activity_engine, emulator) as built:
        yield built


@pytest.fixture(scope="package")
def short_token_emulator(
    tmp_path_factory: pytest.TempPathFactory, msal_trusts_verify: None
) -> Iterator[RunningEmulator]:
    """An emulator of its own whose access tokens live a few seconds, for what happens once the token a
    step holds has expired (the session emulator's live an hour)."""
    emu = start_emulator(
        tmp_path_factory.mktemp("short-tokens"),
        no_snapshot=True,
        access_token_lifetime_min=SHORT_TOKEN_SECONDS,
        access_token_lifetime_max=SHORT_TOKEN_SECONDS,
    )
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
async def short_token_world(
    activity_settings: Settings, activity_engine: Engine, short_token_emulator: RunningEmulator
) -> AsyncIterator[World]:
    settings = activity_settings.model_copy(
        update={
            "ms_authority": short_token_emulator.authority(),
            "ms_graph_base_url": short_token_emulator.graph_url,
            "ms_ca_bundle": short_token_emulator.ca_path,
        }
    )
    register_app(short_token_emulator, settings)
    async with build_world(settings, activity_engine, short_token_emulator) as built:
        yield built
