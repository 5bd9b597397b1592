from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from graph.http_client import build_http_client
from graph.identity import Identity
from graph.mail import GraphMail
from tests.graph.support import RegisteredApp, ValidatingReceiver, register_app
from tests.support.emulator_server import RunningEmulator


@pytest.fixture(scope="session")
async def graph_app(emulator: RunningEmulator) -> RegisteredApp:
    return await register_app(emulator)


@pytest.fixture(scope="session")
def identity(emulator: RunningEmulator, graph_app: RegisteredApp) -> Identity:
    return graph_app.identity(emulator)


@pytest.fixture
async def graph(emulator: RunningEmulator) -> AsyncIterator[GraphMail]:
    async with build_http_client(emulator.ca_path) as http:
        yield GraphMail(http, emulator.graph_url)


@pytest.fixture(scope="session")
def receiver() -> Iterator[ValidatingReceiver]:
    rec = ValidatingReceiver().start()
    try:
        yield rec
    finally:
        rec.stop()
