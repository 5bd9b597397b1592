"""Fixtures for the emulator's black-box suite: the shared emulator (tests.support) and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.receiver import Hook, Receiver
from tests.support.emulator_fixtures import emulator, emulator_client

__all__ = ["emulator", "emulator_client"]


@pytest.fixture(scope="module", autouse=True)
def _msal_honours_verify() -> Iterator[None]:
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's `verify`, so MSAL's
    verify=<emulator CA> is ignored wherever those are set (as on this machine). Clear them here."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REQUESTS_CA_BUNDLE", raising=False)
        mp.delenv("CURL_CA_BUNDLE", raising=False)
        yield


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
