"""The emulator fixtures come from tests/conftest.py; MSAL must honour verify= in every test here."""

import pytest


@pytest.fixture(autouse=True)
def _msal_verify(msal_trusts_verify):
    yield
