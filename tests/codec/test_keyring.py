"""The keyring: random keys, rotation keeps old keys, JSON for Vault, validation that names no key."""

from __future__ import annotations

import base64
import json

import pytest

from codec.errors import InvalidKeyring
from codec.keyring import KEY_BYTES, Keyring


def test_generate_makes_one_random_32_byte_key() -> None:
    first, second = Keyring.generate(), Keyring.generate()
    assert list(first.keys) == [first.current]
    assert first.current.startswith("k-")
    assert len(first.current_key) == KEY_BYTES
    assert first.current != second.current
    assert first.current_key != second.current_key


def test_rotation_adds_a_current_key_and_keeps_the_old_ones() -> None:
    keyring = Keyring.generate()
    rotated = keyring.rotated().rotated()
    assert len(rotated.keys) == 3
    assert rotated.current not in keyring.keys
    assert rotated.keys[keyring.current] == keyring.current_key
    assert keyring.rotated().current != keyring.rotated().current


def test_json_round_trip() -> None:
    keyring = Keyring.generate().rotated()
    assert Keyring.from_json(keyring.to_json()) == keyring
    assert Keyring.from_dict(keyring.to_dict()) == keyring
    stored = json.loads(keyring.to_json())
    assert stored["format"] == 1 and stored["current"] == keyring.current
    assert base64.b64decode(stored["keys"][keyring.current]) == keyring.current_key


def test_keys_are_read_only() -> None:
    keyring = Keyring.generate()
    with pytest.raises(TypeError):
        keyring.keys["other"] = b"x" * 32  # type: ignore[index]


def test_repr_shows_no_key_material() -> None:
    keyring = Keyring.generate()
    text = repr(keyring) + str(keyring)
    assert keyring.current in text
    assert base64.b64encode(keyring.current_key).decode() not in text
    assert repr(keyring.current_key) not in text


SECRET_LOOKING = base64.b64encode(b"k" * 16).decode()
GOOD = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": 1, "current": "a", "keys": {}}, "no keys"),
        ({"format": 1, "current": "b", "keys": {"a": GOOD}}, "'b' has no key"),
        ({"format": 1, "current": "a", "keys": {"a": SECRET_LOOKING}}, "'a' is 16 bytes; AES-256 needs 32"),
        ({"format": 1, "current": "a", "keys": {"a": "not base64 !!"}}, "'a' is not valid base64"),
        ({"format": 1, "current": "a b", "keys": {"a b": GOOD}}, "key id"),
        ({"format": 2, "current": "a", "keys": {}}, "format 2"),
        ({"format": 1, "keys": {}}, "needs a 'current'"),
    ],
)
def test_invalid_keyrings_are_refused_clearly(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidKeyring, match=message) as refused:
        Keyring.from_dict(data)
    assert SECRET_LOOKING not in str(refused.value)


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidKeyring, match="not valid JSON"):
        Keyring.from_json("{")
    with pytest.raises(InvalidKeyring, match="not an object"):
        Keyring.from_json("[]")
