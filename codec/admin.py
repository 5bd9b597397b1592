"""Operators' side of the keyring: create it when absent, rotate it (blocking hvac, privileged token).

Used by stack/openbao_setup.py (root token, on every start of `make run`'s OpenBao), by
`python -m codec` and by the tests. The service itself can only read the keyring (codec/vault_keys.py).

Writes use check-and-set on the version read, so two rotations at once cannot drop each other's key.
A keyring whose latest version was deleted is refused rather than replaced: with one version kept per
secret, writing a new keyring over it would destroy the old keys, and every payload under them.
"""

from __future__ import annotations

from dataclasses import dataclass

import hvac
from hvac.exceptions import InvalidPath, InvalidRequest

from codec.errors import CodecError
from codec.keyring import Keyring
from codec.vault_keys import KEYRING_PATH, keyring_data_path

MAX_CAS_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredKeyring:
    keyring: Keyring | None  # None: nothing stored yet
    version: int  # the check-and-set version a write must name (0 when never written)


def read_stored(client: hvac.Client, mount: str) -> StoredKeyring:
    kv = client.secrets.kv.v2
    try:
        response = kv.read_secret_version(
            path=KEYRING_PATH, mount_point=mount, raise_on_deleted_version=False
        )
    except InvalidPath:
        return StoredKeyring(None, 0)
    metadata = response["data"].get("metadata") or {}
    version = int(metadata.get("version") or 0)
    data = response["data"].get("data")
    if not data:
        raise CodecError(
            f"the keyring at {keyring_data_path(mount)} is deleted (version {version}): undelete it; "
            "writing a new one would destroy the keys of every payload encrypted so far"
        )
    return StoredKeyring(Keyring.from_dict(data), version)


def ensure_keyring(client: hvac.Client, mount: str) -> Keyring:
    """The stored keyring; a new random one is stored first when there is none."""
    for _attempt in range(MAX_CAS_ATTEMPTS):
        stored = read_stored(client, mount)
        if stored.keyring is not None:
            return stored.keyring
        keyring = Keyring.generate()
        if _write(client, mount, keyring, cas=0):
            return keyring
    raise CodecError(f"could not create the keyring at {keyring_data_path(mount)}: concurrent writers")


def rotate_keyring(client: hvac.Client, mount: str) -> Keyring:
    """Adds a new random key, current from now on; the old keys stay for the payloads made with them."""
    for _attempt in range(MAX_CAS_ATTEMPTS):
        stored = read_stored(client, mount)
        if stored.keyring is None:
            raise CodecError(f"no keyring at {keyring_data_path(mount)} to rotate: create it first (init)")
        rotated = stored.keyring.rotated()
        if _write(client, mount, rotated, cas=stored.version):
            return rotated
    raise CodecError(f"could not rotate the keyring at {keyring_data_path(mount)}: concurrent writers")


def store_keyring(client: hvac.Client, mount: str, keyring: Keyring) -> None:
    """Replaces the stored keyring unconditionally (tests seed a fixed one; restoring from a backup)."""
    client.secrets.kv.v2.create_or_update_secret(
        path=KEYRING_PATH, secret=keyring.to_dict(), mount_point=mount
    )


def _write(client: hvac.Client, mount: str, keyring: Keyring, *, cas: int) -> bool:
    """False when another writer got there first."""
    try:
        client.secrets.kv.v2.create_or_update_secret(
            path=KEYRING_PATH, secret=keyring.to_dict(), cas=cas, mount_point=mount
        )
    except InvalidRequest as exc:
        if "check-and-set" in str(exc):
            return False
        raise
    return True
