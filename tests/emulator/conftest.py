"""Fixtures for the emulator's black-box suite: the shared emulator (tests.support) and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.receiver import Hook, Receiver
from tests.support.emulator_fixtures import emulator, emulator_client

__all__ = ["emulator", "emulator_client"]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture
def hook(receiver: Receiver) -> Hook:
    return receiver.hook()
