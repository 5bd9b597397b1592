"""worker.connect(): the keyring from Vault, the codec on the client, and a Vault that is not up yet at
the worker's start is waited for (as Temporal is) rather than fatal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from temporalio.testing import WorkflowEnvironment

import worker
from codec.aes_gcm import EncryptionCodec
from codec.converter import data_converter
from stack.openbao import OpenBaoServer
from tests.support.appdb import make_settings
from tests.support.codec_keys import TEST_KEYRING
from tests.support.servers import free_port

# The worker's own startup code runs in the test's loop: it must not block it (tests/support/loop_stalls.py).
pytestmark = pytest.mark.usefixtures("no_loop_stalls")


@contextlib.asynccontextmanager
async def forwarder(port: int, target: str) -> AsyncIterator[None]:
    """Listens on `port` and passes every connection on to `target` (host:port): Vault "coming up"."""
    host, target_port = target.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        yield


async def test_the_worker_waits_for_vault_then_connects_with_the_codec(
    tmp_path: Path,
    temporal_env: WorkflowEnvironment,
    openbao: OpenBaoServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path,
        temporal_address=temporal_env.client.service_client.config.target_host,
        vault_addr=f"http://127.0.0.1:{port}",
        vault_role_id=openbao.role_id,
        vault_secret_id=openbao.secret_id,
    )
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="worker"):
        resources = contextlib.AsyncExitStack()
        connecting = asyncio.create_task(worker._connect_until_stopped(settings, stop, resources))
        await asyncio.sleep(0.5)
        assert not connecting.done(), "the worker gave up while Vault was down"
        assert any("vault at" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)
        async with forwarder(port, urlsplit(openbao.addr).netloc):
            client = await asyncio.wait_for(connecting, 30)
    await resources.aclose()  # the Vault client the codec keeps
    assert client is not None
    codec = client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert codec.keyring == TEST_KEYRING  # the tests' OpenBao holds the tests' keyring
    assert client.data_converter.failure_converter_class is data_converter(None).failure_converter_class
    # No log line carries key material.
    assert not any(TEST_KEYRING.current_key.hex() in r.getMessage() for r in caplog.records)


async def test_a_stopped_worker_stops_waiting_for_vault(tmp_path: Path, openbao: OpenBaoServer) -> None:
    settings = make_settings(
        tmp_path,
        vault_addr=f"http://127.0.0.1:{free_port()}",
        vault_role_id=openbao.role_id,
        vault_secret_id=openbao.secret_id,
    )
    stop = asyncio.Event()
    connecting = asyncio.create_task(
        worker._connect_until_stopped(settings, stop, contextlib.AsyncExitStack())
    )
    await asyncio.sleep(0.3)
    stop.set()
    assert await asyncio.wait_for(connecting, 10) is None
