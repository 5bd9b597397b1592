"""The service's side of the keyring: read it from Vault's KV v2 with the AppRole (read only).

The keyring is one KV v2 secret, `<mount>/data/temporal-codec/keys` (beside the connections' secrets,
under a name of its own that no connection id can take). The AppRole policy grants `read` there and
nothing else; operators create and rotate it with a privileged token (codec/admin.py). The mount keeps
one version per secret, so the newest keyring holds every key still needed, old ones included.
"""

from __future__ import annotations

import functools
from typing import Any

import hvac
import hvac.exceptions

from codec.aes_gcm import EncryptionCodec
from codec.errors import KeyringNotFound
from codec.keyring import Keyring
from vault.client import VaultClient

KEYRING_PATH = "temporal-codec/keys"


def keyring_data_path(mount: str) -> str:
    """The path a Vault policy names for reading (and writing) the keyring."""
    return f"{mount}/data/{KEYRING_PATH}"


async def load_keyring(vault: VaultClient, mount: str | None = None) -> Keyring:
    """The keyring as stored now. Raises KeyringNotFound, or vault's errors (VaultUnavailable...)."""
    kv_mount = mount or vault.kv_mount

    def run(client: hvac.Client) -> dict[str, Any] | None:
        try:
            response = client.secrets.kv.v2.read_secret_version(
                path=KEYRING_PATH, mount_point=kv_mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return None
        data: dict[str, Any] | None = response["data"].get("data")
        return data

    data = await vault.call(run, what="read the payload codec keyring")
    if not data:
        raise KeyringNotFound(
            f"no payload codec keyring at {keyring_data_path(kv_mount)}: create it with "
            "`python -m codec init` (make run's OpenBao setup does)"
        )
    return Keyring.from_dict(data)


def vault_codec(
    vault: VaultClient, mount: str | None = None, keyring: Keyring | None = None
) -> EncryptionCodec:
    """A codec that reloads its keyring from Vault when it meets a key id it lacks; without `keyring`
    it loads it on first use."""
    return EncryptionCodec(keyring, reload=functools.partial(load_keyring, vault, mount))
