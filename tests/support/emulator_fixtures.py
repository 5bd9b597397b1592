"""Pytest fixtures for the emulator: `emulator` (one process per session) and `emulator_client`.

Register with `pytest_plugins = ["tests.support.emulator_fixtures"]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.emulator_server import RunningEmulator, start_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), no_snapshot=True)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
async def emulator_client(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=str(emulator.ca_path)) as client:
        yield client
