"""EncryptionCodec: AES-256-GCM per payload, key id in the metadata, old keys decode, reload once."""

from __future__ import annotations

import asyncio
import base64

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from codec.aes_gcm import ENCODING, KEY_ID_METADATA, NONCE_BYTES, EncryptionCodec
from codec.converter import data_converter
from codec.errors import PayloadDecryptionFailed, UnknownKeyId
from codec.keyring import Keyring

SUBJECT = "Quarterly numbers: confidential"


def plain(text: str = SUBJECT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'{{"subject": "{text}"}}'.encode())


async def test_round_trip_keeps_metadata_and_data() -> None:
    codec = EncryptionCodec(Keyring.generate())
    originals = [plain(), plain("second"), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(await codec.encode(originals)) == originals


async def test_encoded_payload_names_encoding_and_key_and_hides_the_content() -> None:
    keyring = Keyring.generate()
    [encoded] = await EncryptionCodec(keyring).encode([plain()])
    assert dict(encoded.metadata) == {"encoding": ENCODING, KEY_ID_METADATA: keyring.current.encode()}
    raw = encoded.SerializeToString()
    for form in (SUBJECT.encode(), b"json/plain", base64.b64encode(SUBJECT.encode())):
        assert form not in raw
    # Random nonce: the same payload twice is two different ciphertexts.
    [again] = await EncryptionCodec(keyring).encode([plain()])
    assert again.data[:NONCE_BYTES] != encoded.data[:NONCE_BYTES]
    assert again.data != encoded.data


async def test_payloads_under_an_older_key_still_decode_after_rotation() -> None:
    k1 = Keyring.generate()
    [old] = await EncryptionCodec(k1).encode([plain("under k1")])
    rotated = EncryptionCodec(k1.rotated())
    [new] = await rotated.encode([plain("under k2")])
    assert new.metadata[KEY_ID_METADATA] != old.metadata[KEY_ID_METADATA]
    assert new.metadata[KEY_ID_METADATA].decode() == rotated.keyring.current  # type: ignore[union-attr]
    assert await rotated.decode([old, new]) == [plain("under k1"), plain("under k2")]


async def test_an_unknown_key_id_is_a_clear_error_without_key_material() -> None:
    other = Keyring.generate()
    [foreign] = await EncryptionCodec(other).encode([plain()])
    mine = Keyring.generate()
    with pytest.raises(UnknownKeyId) as refused:
        await EncryptionCodec(mine).decode([foreign])
    message = str(refused.value)
    assert refused.value.key_id == other.current
    assert other.current in message and mine.current in message
    for key in (other.current_key, mine.current_key):
        assert base64.b64encode(key).decode() not in message
        assert key.hex() not in message


async def test_an_unknown_key_id_reloads_the_keyring_once() -> None:
    k1 = Keyring.generate()
    k2 = k1.rotated()  # another process rotated after this one loaded k1
    [newer] = await EncryptionCodec(k2).encode([plain()])
    loads: list[Keyring] = []

    async def reload() -> Keyring:
        loads.append(k2)
        await asyncio.sleep(0.01)  # concurrent decodes wait for this one reload
        return k2

    codec = EncryptionCodec(k1, reload=reload)
    results = await asyncio.gather(*(codec.decode([newer, newer]) for _ in range(5)))
    assert results == [[plain(), plain()]] * 5
    assert len(loads) == 1
    assert codec.keyring == k2
    # And it encrypts under the new current key from now on.
    [encoded] = await codec.encode([plain()])
    assert encoded.metadata[KEY_ID_METADATA] == k2.current.encode()


async def test_a_key_id_still_unknown_after_the_reload_fails_without_reloading_again() -> None:
    k1 = Keyring.generate()
    [foreign] = await EncryptionCodec(Keyring.generate()).encode([plain()])
    loads = 0

    async def reload() -> Keyring:
        nonlocal loads
        loads += 1
        return k1

    codec = EncryptionCodec(k1, reload=reload)
    for _ in range(3):
        with pytest.raises(UnknownKeyId):
            await codec.decode([foreign])
    assert loads == 1  # not one Vault read per decode of a payload no key opens


async def test_a_lazy_codec_loads_its_keyring_on_first_use() -> None:
    keyring = Keyring.generate()
    loads = 0

    async def load() -> Keyring:
        nonlocal loads
        loads += 1
        return keyring

    codec = EncryptionCodec(reload=load)
    assert codec.keyring is None
    encoded = await codec.encode([plain()])
    assert await codec.decode(encoded) == [plain()]
    assert loads == 1
    with pytest.raises(ValueError, match="needs a keyring"):
        EncryptionCodec()


def tampered(payload: Payload, **changes: bytes) -> Payload:
    copy = Payload()
    copy.CopyFrom(payload)
    for name, value in changes.items():
        if name == "data":
            copy.data = value
        else:
            copy.metadata[name.replace("_", "-")] = value
    return copy


async def test_tampered_ciphertext_is_refused() -> None:
    keyring = Keyring.generate().rotated()
    codec = EncryptionCodec(keyring)
    [good] = await codec.encode([plain()])
    flipped = bytes([good.data[-1] ^ 1])
    older = next(k for k in keyring.keys if k != keyring.current)
    for bad in (
        tampered(good, data=good.data[:-1] + flipped),  # the tag
        tampered(good, data=good.data[:NONCE_BYTES] + bytes([good.data[NONCE_BYTES] ^ 1]) + good.data[13:]),
        tampered(good, data=good.data[:20]),  # truncated
        # The key id is the associated data: another (valid) id fails authentication.
        tampered(good, encryption_key_id=older.encode()),
    ):
        with pytest.raises(PayloadDecryptionFailed, match="key id"):
            await codec.decode([bad])


async def test_malformed_key_ids_are_refused_without_echoing_them() -> None:
    codec = EncryptionCodec(Keyring.generate())
    [good] = await codec.encode([plain()])
    missing = Payload()
    missing.CopyFrom(good)
    del missing.metadata[KEY_ID_METADATA]
    with pytest.raises(PayloadDecryptionFailed, match="no key id"):
        await codec.decode([missing])
    with pytest.raises(PayloadDecryptionFailed, match="invalid key id") as refused:
        await codec.decode([tampered(good, encryption_key_id=b"<script>\n")])
    assert "script" not in str(refused.value)


async def test_payloads_without_the_encoding_pass_through() -> None:
    # Histories recorded before the codec existed hold plain payloads: they must still replay.
    codec = EncryptionCodec(Keyring.generate())
    originals = [plain(), Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01"), Payload()]
    assert await codec.decode(originals) == originals


async def test_the_data_converter_encrypts_values_and_uses_encoded_failure_attributes() -> None:
    keyring = Keyring.generate()
    converter = data_converter(EncryptionCodec(keyring))
    [payload] = await converter.encode([{"subject": SUBJECT}])
    assert payload.metadata["encoding"] == ENCODING
    assert SUBJECT.encode() not in payload.data
    assert await converter.decode([payload]) == [{"subject": SUBJECT}]
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    # The pydantic payload converter stays (models go in and out as before).
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class
