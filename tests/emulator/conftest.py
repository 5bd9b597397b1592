"""Fixtures for the emulator's black-box suite. The shared `emulator` and `emulator_client` come from
tests.support.emulator_fixtures (registered in tests/conftest.py); here: a real webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator.receiver import Hook, Receiver


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
