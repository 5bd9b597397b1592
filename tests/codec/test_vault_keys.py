"""The keyring in OpenBao: created by the setup, read (only) by the service's AppRole, rotated by
`python -m codec`, and reloaded by a running codec that meets the new key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import hvac
import pytest
from hvac.exceptions import Forbidden
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from codec.admin import ensure_keyring, read_stored, rotate_keyring
from codec.aes_gcm import KEY_ID_METADATA, EncryptionCodec
from codec.errors import CodecError, KeyringNotFound
from codec.keyring import Keyring
from codec.vault_keys import KEYRING_PATH, load_keyring, vault_codec
from stack.openbao import OpenBaoServer
from stack.openbao_setup import KV_MOUNT, configure
from tests.support.codec_keys import TEST_KEYRING
from tests.support.servers import free_port
from vault.client import VaultClient
from vault.errors import VaultPermissionDenied

REPO_ROOT = Path(__file__).resolve().parents[2]


def service_vault(server: OpenBaoServer) -> VaultClient:
    return VaultClient(server.addr, server.role_id, SecretStr(server.secret_id))


def root(server: OpenBaoServer) -> hvac.Client:
    return hvac.Client(url=server.addr, token=server.root_token)


@pytest.fixture
async def vault(openbao: OpenBaoServer) -> AsyncIterator[VaultClient]:
    client = service_vault(openbao)
    yield client
    client.close()


# ----- the tests' OpenBao (shared): seeded with the tests' keyring -----------------------------------


async def test_the_service_reads_the_keyring(vault: VaultClient) -> None:
    assert await load_keyring(vault) == TEST_KEYRING


async def test_the_service_cannot_change_the_keyring(openbao: OpenBaoServer, vault: VaultClient) -> None:
    def write(client: hvac.Client) -> None:
        client.secrets.kv.v2.create_or_update_secret(
            path=KEYRING_PATH, secret=Keyring.generate().to_dict(), mount_point=KV_MOUNT
        )

    with pytest.raises(VaultPermissionDenied):
        await vault.call(write, what="write the keyring")
    service = hvac.Client(url=openbao.addr)
    service.auth.approle.login(openbao.role_id, openbao.secret_id)
    kv = service.secrets.kv.v2
    attempts: list[Callable[[], object]] = [
        lambda: kv.delete_latest_version_of_secret(KEYRING_PATH, mount_point=KV_MOUNT),
        lambda: kv.delete_metadata_and_all_versions(KEYRING_PATH, mount_point=KV_MOUNT),
        lambda: kv.read_secret_metadata(KEYRING_PATH, mount_point=KV_MOUNT),
        lambda: kv.destroy_secret_versions(KEYRING_PATH, versions=[1], mount_point=KV_MOUNT),
        lambda: kv.list_secrets("temporal-codec", mount_point=KV_MOUNT),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt()
    assert await load_keyring(vault) == TEST_KEYRING


# ----- an OpenBao of this module's own, as `make run` sets one up (random keyring) ----------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("codec-data")


@pytest.fixture(scope="module")
def own_openbao(data_dir: Path) -> Iterator[OpenBaoServer]:
    # <data dir>/openbao, where `python -m codec` finds make run's init.json.
    server = OpenBaoServer.create(data_dir / "openbao", port=free_port(), cluster_port=free_port()).start()
    try:
        yield server
    finally:
        server.stop()


def stored(server: OpenBaoServer) -> Keyring:
    keyring = read_stored(root(server), KV_MOUNT).keyring
    assert keyring is not None
    return keyring


def test_the_setup_creates_a_random_keyring_once(own_openbao: OpenBaoServer) -> None:
    first = stored(own_openbao)
    assert first.current.startswith("k-") and first.current != TEST_KEYRING.current
    assert len(first.keys) == 1
    configure(own_openbao.addr, own_openbao.root_token, own_openbao.layout.data_dir)
    assert stored(own_openbao) == first  # every later start keeps it


def codec_command(data_dir: Path, server: OpenBaoServer, *args: str, token: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update({"ENVIRONMENT": "development", "DATA_DIR": str(data_dir), "VAULT_ADDR": server.addr})
    if token:
        env["VAULT_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "codec", *args], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode()


def test_the_rotate_command_adds_a_current_key_and_prints_only_its_id(
    own_openbao: OpenBaoServer, data_dir: Path
) -> None:
    before = stored(own_openbao)
    # The root token from make run's init.json ...
    out = codec_command(data_dir, own_openbao, "rotate")
    after = stored(own_openbao)
    assert out == f"{after.current}\n"
    assert after.current != before.current
    assert {k: after.keys[k] for k in before.keys} == dict(before.keys)  # old keys kept
    # ... or an operator's VAULT_TOKEN.
    again = codec_command(data_dir, own_openbao, "rotate", token=own_openbao.root_token)
    assert again == f"{stored(own_openbao).current}\n"
    assert len(stored(own_openbao).keys) == 3
    # init leaves an existing keyring alone and names its current key.
    assert codec_command(data_dir, own_openbao, "init") == again


def test_the_rotate_command_fails_clearly_without_a_token(tmp_path: Path, own_openbao: OpenBaoServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update({"ENVIRONMENT": "development", "DATA_DIR": str(tmp_path), "VAULT_ADDR": own_openbao.addr})
    done = subprocess.run(
        [sys.executable, "-m", "codec", "rotate"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 1
    assert b"set VAULT_TOKEN" in done.stderr and done.stdout == b""


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_a_running_codec_reloads_a_keyring_rotated_after_it_started(own_openbao: OpenBaoServer):
    vault = service_vault(own_openbao)
    try:
        running = vault_codec(vault, keyring=await load_keyring(vault))  # as the worker starts
        [old] = await running.encode([plain("before the rotation")])
        rotated = rotate_keyring(root(own_openbao), KV_MOUNT)
        started_later = vault_codec(vault)  # another process, started after the rotation
        [new] = await started_later.encode([plain("after the rotation")])
        assert new.metadata[KEY_ID_METADATA] == rotated.current.encode()

        assert await running.decode([old, new]) == [plain("before the rotation"), plain("after the rotation")]
        assert running.keyring == rotated
        assert await started_later.decode([old]) == [plain("before the rotation")]
    finally:
        vault.close()


async def test_a_missing_keyring_is_a_clear_error_and_the_setup_makes_a_new_one(
    own_openbao: OpenBaoServer,
) -> None:
    admin = root(own_openbao)
    admin.secrets.kv.v2.delete_metadata_and_all_versions(KEYRING_PATH, mount_point=KV_MOUNT)
    vault = service_vault(own_openbao)
    try:
        with pytest.raises(KeyringNotFound, match="python -m codec init"):
            await load_keyring(vault)
        configure(own_openbao.addr, own_openbao.root_token, own_openbao.layout.data_dir)
        assert await load_keyring(vault) == stored(own_openbao)
    finally:
        vault.close()


def test_a_deleted_keyring_is_not_replaced(own_openbao: OpenBaoServer) -> None:
    admin = root(own_openbao)
    kept = stored(own_openbao)
    version = read_stored(admin, KV_MOUNT).version
    admin.secrets.kv.v2.delete_latest_version_of_secret(KEYRING_PATH, mount_point=KV_MOUNT)
    try:
        # Writing a new keyring would destroy the deleted one's keys (one version is kept per secret).
        with pytest.raises(CodecError, match="is deleted"):
            ensure_keyring(admin, KV_MOUNT)
        with pytest.raises(CodecError, match="is deleted"):
            rotate_keyring(admin, KV_MOUNT)
    finally:
        admin.secrets.kv.v2.undelete_secret_versions(KEYRING_PATH, versions=[version], mount_point=KV_MOUNT)
    assert stored(own_openbao) == kept


async def test_codec_from_vault_decodes_what_a_fixed_codec_made(vault: VaultClient) -> None:
    """The API and worker under test (keyring from the tests' OpenBao) and the tests' Temporal clients
    (TEST_KEYRING in code) read each other's payloads."""
    [made] = await EncryptionCodec(TEST_KEYRING).encode([plain("from the tests")])
    assert await vault_codec(vault).decode([made]) == [plain("from the tests")]
