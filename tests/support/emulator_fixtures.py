"""Pytest fixtures for the emulator: `emulator` (one process per session) and `emulator_client`.

Register with `pytest_plugins = ["tests.support.emulator_fixtures"]`.

requests (used by MSAL) lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override a session's
`verify`, so MSAL's `verify=ca.pem` is silently ignored where those are set (as on this machine). The
`emulator` fixture removes them for the test session, so unmodified MSAL trusts the emulator's CA.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.emulator_server import RunningEmulator, start_emulator

CA_BUNDLE_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="session")
def msal_trusts_verify() -> Iterator[None]:
    """Lets MSAL's `verify=` take effect (see the module docstring); restores the variables afterwards."""
    saved = {name: os.environ.pop(name) for name in CA_BUNDLE_ENV if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory, msal_trusts_verify: None) -> Iterator[RunningEmulator]:
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), no_snapshot=True)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
async def emulator_client(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=emulator.ssl_context()) as client:
        yield client
