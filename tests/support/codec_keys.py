"""The tests' payload codec keyring: fixed, committed, and useless anywhere else.

Recorded histories (tests/replay/histories) are replayed on every `make test`, so the keys that
encrypted them must be in the repository: this keyring, used by the test Temporal environments, the
Replayer, the leak scan, and seeded into the tests' OpenBao so the API and worker under test load the
same keys from Vault. Production keyrings are always random (stack/openbao_setup.py, `python -m codec`);
nothing outside tests/ refers to this one.
"""

from __future__ import annotations

import hvac

from codec.admin import store_keyring
from codec.aes_gcm import EncryptionCodec
from codec.converter import data_converter
from codec.keyring import Keyring
from stack.openbao import OpenBaoServer
from stack.openbao_setup import KV_MOUNT

TEST_KEY_ID = "test-only-not-secret"
TEST_KEY = b"test-only-not-secret-32-bytes!!!"
TEST_KEYRING = Keyring(current=TEST_KEY_ID, keys={TEST_KEY_ID: TEST_KEY})
TEST_CODEC = EncryptionCodec(TEST_KEYRING)
TEST_DATA_CONVERTER = data_converter(TEST_CODEC)


def seed_test_keyring(server: OpenBaoServer) -> None:
    """Replaces the random keyring the setup made with TEST_KEYRING (root token)."""
    store_keyring(hvac.Client(url=server.addr, token=server.root_token), KV_MOUNT, TEST_KEYRING)
