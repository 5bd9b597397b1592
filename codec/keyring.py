"""The codec's keys: 32-byte AES keys by id, and the id of the one that encrypts now.

Rotation adds a key and makes it current; older keys stay so that every payload already in a history
(or in a recorded one) still decodes. Keys are never removed by this code: a payload encrypted under a
removed key could never be read again.

Stored in Vault as JSON (`to_dict`/`from_dict`, `to_json`/`from_json`): {"format": 1, "current": id,
"keys": {id: base64 key}}. Errors and the repr name key ids only, never key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from codec.errors import InvalidKeyring

FORMAT = 1
KEY_BYTES = 32  # AES-256
# Key ids travel in every payload's metadata and in error messages: short, printable, no separators
# that could be mistaken for something else in a log line.
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def new_key_id() -> str:
    """'k-<date>-<8 hex>': the date tells an operator how old a key is, the random part keeps two
    rotations on one day apart."""
    return f"k-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def valid_key_id(key_id: str) -> bool:
    return bool(KEY_ID.fullmatch(key_id))


@dataclass(frozen=True)
class Keyring:
    current: str
    # repr=False: a logged or printed keyring must not show its keys.
    keys: Mapping[str, bytes] = field(repr=False, hash=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidKeyring("keyring has no keys")
        for key_id, key in self.keys.items():
            if not isinstance(key_id, str) or not valid_key_id(key_id):
                raise InvalidKeyring("keyring has a key id that is not 1-64 characters of A-Z a-z 0-9 . _ -")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                size = len(key) if isinstance(key, bytes) else "not"
                raise InvalidKeyring(f"key {key_id!r} is {size} bytes; AES-256 needs {KEY_BYTES}")
        if self.current not in self.keys:
            raise InvalidKeyring(f"current key id {self.current!r} has no key in the keyring")
        # A read-only copy: nobody can slip a key in (or out) behind the validation.
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one new random key."""
        key_id = new_key_id()
        return cls(current=key_id, keys={key_id: secrets.token_bytes(KEY_BYTES)})

    def rotated(self) -> Keyring:
        """This keyring plus a new random key, which becomes current."""
        key_id = new_key_id()
        while key_id in self.keys:
            key_id = new_key_id()
        return Keyring(current=key_id, keys={**self.keys, key_id: secrets.token_bytes(KEY_BYTES)})

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    # --- storage ---

    def to_dict(self) -> dict[str, Any]:
        encoded = {key_id: base64.b64encode(key).decode("ascii") for key_id, key in self.keys.items()}
        return {"format": FORMAT, "current": self.current, "keys": encoded}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Keyring:
        if data.get("format") != FORMAT:
            raise InvalidKeyring(f"keyring format {data.get('format')!r} is not {FORMAT}")
        current, encoded = data.get("current"), data.get("keys")
        if not isinstance(current, str) or not isinstance(encoded, dict):
            raise InvalidKeyring("keyring needs a 'current' key id and a 'keys' object")
        keys: dict[str, bytes] = {}
        for key_id, text in encoded.items():
            try:
                keys[key_id] = base64.b64decode(str(text), validate=True)
            except (binascii.Error, ValueError):
                # Never the value itself in the message: it is (part of) a key.
                raise InvalidKeyring(f"key {key_id!r} is not valid base64") from None
        return cls(current=current, keys=keys)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidKeyring("keyring is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidKeyring("keyring JSON is not an object")
        return cls.from_dict(data)
