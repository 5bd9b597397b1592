"""AES-256-GCM over each Temporal payload (samples-python `encryption/codec.py`, plus key ids and reload).

encode: the whole payload (metadata and data) is serialised and encrypted under the keyring's current
key with a random 12-byte nonce; the new payload says `encoding: binary/encrypted` and which key id, and
holds nonce + ciphertext. The key id is also the associated data, so a payload whose key id metadata was
changed fails authentication instead of being tried under another key.

decode: payloads without that encoding pass through unchanged, so histories recorded before the codec
existed still replay. A key id the keyring lacks (another process rotated after this one loaded the
keyring) makes the codec reload the keyring once, when it was given a `reload`, before it fails.

Random 96-bit nonces are safe for about 2^32 payloads per key; rotating the key resets that count.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from codec.errors import PayloadDecryptionFailed, UnknownKeyId
from codec.keyring import Keyring, valid_key_id

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16
# An unknown key id met again soon after a reload does not cause another: a payload under a key that
# really is gone must not turn every decode into a Vault read.
MIN_RELOAD_INTERVAL_SECONDS = 5.0

KeyringLoader = Callable[[], Awaitable[Keyring]]


class EncryptionCodec(PayloadCodec):
    """Encrypts payloads under the current key; decrypts under whichever key id a payload names.

    `keyring` may be None when `reload` is given: the keyring is then loaded on first use (the API
    starts, and reports readiness, before Vault answers).
    """

    def __init__(self, keyring: Keyring | None = None, *, reload: KeyringLoader | None = None) -> None:
        super().__init__()
        if keyring is None and reload is None:
            raise ValueError("EncryptionCodec needs a keyring or a way to load one")
        self._keyring = keyring
        self._reload = reload
        self._reloaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._ciphers: dict[str, AESGCM] = {}

    @property
    def keyring(self) -> Keyring | None:
        """The keyring in use (None until a lazily loaded one is first needed)."""
        return self._keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        keyring = self._keyring or await self._load(None)
        key_id = keyring.current
        cipher = self._cipher(keyring, key_id)
        encoded: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode("ascii"))
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode("ascii")},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded: list[Payload] = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            key_id = _key_id(payload)
            cipher = await self._cipher_for(key_id)
            data = payload.data
            if len(data) < NONCE_BYTES + TAG_BYTES:
                raise PayloadDecryptionFailed(f"payload under key id {key_id!r} is truncated")
            try:
                plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode("ascii"))
            except InvalidTag:
                raise PayloadDecryptionFailed(
                    f"payload under key id {key_id!r} failed authentication: altered, or not encrypted "
                    "with this keyring's key of that id"
                ) from None
            decoded.append(Payload.FromString(plain))
        return decoded

    # --- keys ---

    async def _cipher_for(self, key_id: str) -> AESGCM:
        keyring = self._keyring or await self._load(None)
        if key_id not in keyring.keys and self._may_reload():
            keyring = await self._load(keyring)
        if key_id not in keyring.keys:
            known = ", ".join(sorted(keyring.keys))
            raise UnknownKeyId(
                key_id,
                f"payload encrypted under key id {key_id!r}, which the keyring does not hold "
                f"(it holds {known}); it was made with another keyring, or the key was removed",
            )
        return self._cipher(keyring, key_id)

    def _may_reload(self) -> bool:
        if self._reload is None:
            return False
        return (
            self._reloaded_at is None or time.monotonic() - self._reloaded_at >= MIN_RELOAD_INTERVAL_SECONDS
        )

    async def _load(self, seen: Keyring | None) -> Keyring:
        """Loads the keyring, unless another task did since `seen` was read (one reload, not one per
        payload of a batch or per concurrent task)."""
        assert self._reload is not None  # a codec without reload always has a keyring
        async with self._lock:
            if self._keyring is not None and self._keyring is not seen:
                return self._keyring
            keyring = await self._reload()
            self._keyring = keyring
            self._reloaded_at = time.monotonic()
            self._ciphers = {}
            return keyring

    def _cipher(self, keyring: Keyring, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None or keyring is not self._keyring:
            cipher = AESGCM(bytes(keyring.keys[key_id]))
            if keyring is self._keyring:
                self._ciphers[key_id] = cipher
        return cipher


def _key_id(payload: Payload) -> str:
    raw = payload.metadata.get(KEY_ID_METADATA)
    if raw is None:
        raise PayloadDecryptionFailed("encrypted payload has no key id in its metadata")
    key_id = raw.decode("ascii", errors="replace")
    if not valid_key_id(key_id):
        # Not echoed: it is whatever the payload's author put there.
        raise PayloadDecryptionFailed("encrypted payload has an invalid key id in its metadata")
    return key_id
