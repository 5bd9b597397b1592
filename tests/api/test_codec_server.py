"""The codec server (/codec/encode, /codec/decode): Temporal's wire format, admins only, CORS for the UI."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from accounts.sessions import SESSION_COOKIE
from api.routes.codec import MAX_BODY_BYTES
from codec.aes_gcm import EncryptionCodec
from codec.errors import KeyringNotFound
from codec.keyring import Keyring
from tests.api.conftest import bearer

UI_ORIGIN = "http://127.0.0.1:8233"  # make_settings leaves temporal_ui_url at its default
JSON = {"content-type": "application/json"}
SECRET_TEXT = b'{"subject": "Quarterly numbers", "body": "strictly confidential"}'


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def codec(app, keyring) -> EncryptionCodec:
    codec = EncryptionCodec(keyring)
    app.state.payload_codec = codec
    return codec


def plain_payload(data: bytes = SECRET_TEXT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def wire(*payloads: Payload) -> dict[str, object]:
    """A request body as the Temporal UI sends it (proto3 JSON: bytes as base64)."""
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_wire(body: dict[str, object]) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in body["payloads"]]  # type: ignore[attr-defined]


async def test_round_trip_through_both_endpoints(client, admin, codec):
    encoded = await client.post("/codec/encode", json=wire(plain_payload()), headers=bearer(admin[1]))
    assert encoded.status_code == 200, encoded.text
    assert encoded.headers["content-type"] == "application/json"
    [ciphertext] = from_wire(encoded.json())
    assert ciphertext.metadata["encoding"] == b"binary/encrypted"
    assert SECRET_TEXT not in ciphertext.data
    # The metadata goes over the wire base64-encoded, as proto3 JSON has it.
    raw = encoded.json()["payloads"][0]["metadata"]["encoding"]
    assert base64.b64decode(raw) == b"binary/encrypted"

    decoded = await client.post("/codec/decode", json=encoded.json(), headers=bearer(admin[1]))
    assert decoded.status_code == 200, decoded.text
    assert from_wire(decoded.json()) == [plain_payload()]


async def test_decodes_what_the_codec_encoded(client, admin, codec):
    """What a worker wrote into a history, with several payloads in one call, in order."""
    originals = [plain_payload(), plain_payload(b'"second"'), plain_payload(b"")]
    encrypted = await codec.encode(originals)
    response = await client.post("/codec/decode", json=wire(*encrypted), headers=bearer(admin[1]))
    assert response.status_code == 200, response.text
    assert from_wire(response.json()) == originals


async def test_empty_list_answers_an_empty_list(client, admin, codec):
    for path in ("/codec/encode", "/codec/decode"):
        response = await client.post(path, json={"payloads": []}, headers=bearer(admin[1]))
        assert response.status_code == 200
        assert response.json() == {"payloads": []}


async def test_admin_session_cookie_is_enough(client, admin, codec):
    signin = await client.post("/signin", data={"token": admin[1]})
    assert signin.status_code == 303 and client.cookies.get(SESSION_COOKIE)
    encrypted = await codec.encode([plain_payload()])
    response = await client.post("/codec/decode", json=wire(*encrypted))
    assert response.status_code == 200, response.text
    assert from_wire(response.json()) == [plain_payload()]


async def test_anonymous_gets_401_and_nothing_else(client, codec):
    encrypted = await codec.encode([plain_payload()])
    for path in ("/codec/encode", "/codec/decode"):
        response = await client.post(path, json=wire(*encrypted))
        assert response.status_code == 401
        assert "payloads" not in response.text and "decode" not in response.text
        # Refused before the body is read: a broken body changes nothing about the answer.
        broken = await client.post(path, content=b"{not json", headers=JSON)
        assert broken.status_code == 401


async def test_bad_cookie_or_token_gets_401(client, codec):
    client.cookies.set(SESSION_COOKIE, "forged")
    assert (await client.post("/codec/decode", json={"payloads": []})).status_code == 401
    client.cookies.clear()
    response = await client.post("/codec/decode", json={"payloads": []}, headers=bearer("oit_guess"))
    assert response.status_code == 401


async def test_member_gets_403_and_nothing_else(client, member, codec):
    encrypted = await codec.encode([plain_payload()])
    for path in ("/codec/encode", "/codec/decode"):
        response = await client.post(path, json=wire(*encrypted), headers=bearer(member[1]))
        assert response.status_code == 403
        assert response.json() == {"detail": "admin role required"}


async def test_member_session_cookie_gets_403(client, member, codec):
    await client.post("/signin", data={"token": member[1]})
    assert (await client.post("/codec/decode", json={"payloads": []})).status_code == 403


async def test_revoked_token_gets_401(client, admin, codec):
    issued = await client.post(f"/api/users/{admin[0]}/tokens", json={"name": "ui"}, headers=bearer(admin[1]))
    token = issued.json()
    ok = await client.post("/codec/decode", json={"payloads": []}, headers=bearer(token["token"]))
    assert ok.status_code == 200
    deleted = await client.delete(f"/api/users/{admin[0]}/tokens/{token['id']}", headers=bearer(admin[1]))
    assert deleted.status_code == 204
    refused = await client.post("/codec/decode", json={"payloads": []}, headers=bearer(token["token"]))
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"\xff\xfe",
        b"[]",
        b'"payloads"',
        b"{}",
        b'{"payloads": 5}',
        b'{"payloads": [{"data": 5}]}',
        b'{"payloads": [{"metadata": {"encoding": "not base64!"}}]}',
        b'{"payloads": [], "extra": 1}',
        b"[" * 100_000,
    ],
)
async def test_bad_bodies_get_400_with_a_message(client, admin, codec, body):
    for path in ("/codec/encode", "/codec/decode"):
        response = await client.post(path, content=body, headers={**JSON, **bearer(admin[1])})
        assert response.status_code == 400, (path, response.text)
        assert "payloads" in response.json()["detail"]


async def test_other_content_types_get_415(client, admin, codec):
    # A cross-origin form post needs no preflight; JSON-only means every cross-origin call needs one.
    response = await client.post(
        "/codec/decode",
        content=b'{"payloads": []}',
        headers={"content-type": "text/plain", **bearer(admin[1])},
    )
    assert response.status_code == 415
    charset = {"content-type": "application/json; charset=utf-8", **bearer(admin[1])}
    assert (
        await client.post("/codec/decode", content=b'{"payloads": []}', headers=charset)
    ).status_code == 200


async def test_oversized_bodies_get_413(client, admin, codec):
    big = b'{"payloads": [{"data": "' + b"A" * MAX_BODY_BYTES + b'"}]}'
    response = await client.post("/codec/encode", content=big, headers={**JSON, **bearer(admin[1])})
    assert response.status_code == 413


async def test_oversized_streamed_bodies_get_413(client, admin, codec):
    """Without a Content-Length the cap still holds while the body streams in."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"payloads": [{"data": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"A" * 65536
        yield b'"}]}'

    response = await client.post("/codec/decode", content=chunks(), headers={**JSON, **bearer(admin[1])})
    assert response.status_code == 413


async def test_keyring_unavailable_gets_503(client, admin, app):
    async def no_keyring() -> Keyring:
        raise KeyringNotFound("no keyring at the expected path")

    app.state.payload_codec = EncryptionCodec(reload=no_keyring)
    for path in ("/codec/encode", "/codec/decode"):
        body = wire(Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k-1"}))
        response = await client.post(path, json=body, headers=bearer(admin[1]))
        assert response.status_code == 503
        assert "path" not in response.text


async def test_unknown_key_gets_422_without_details(client, admin, app, codec, keyring):
    other = Keyring.generate()
    encrypted = await EncryptionCodec(other).encode([plain_payload()])
    response = await client.post("/codec/decode", json=wire(*encrypted), headers=bearer(admin[1]))
    assert response.status_code == 422
    assert response.json() == {"detail": "a payload could not be decoded: unknown key or altered data"}
    for ring in (keyring, other):
        assert ring.current not in response.text
        for key in ring.keys.values():
            assert key.hex() not in response.text and base64.b64encode(key).decode() not in response.text


async def test_tampered_payload_gets_422(client, admin, codec):
    [encrypted] = await codec.encode([plain_payload()])
    flipped = bytearray(encrypted.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=dict(encrypted.metadata), data=bytes(flipped))
    response = await client.post("/codec/decode", json=wire(tampered), headers=bearer(admin[1]))
    assert response.status_code == 422
    assert "could not be decoded" in response.json()["detail"]


async def test_preflight_from_the_ui_origin_is_allowed_with_credentials(client, codec):
    for path in ("/codec/decode", "/codec/encode"):
        response = await client.options(
            path,
            headers={
                "origin": UI_ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,x-namespace",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"content-type", "x-namespace", "authorization"} <= {h.strip() for h in allowed.split(",")}


async def test_ui_origin_reads_the_answer_with_the_cookie(client, admin, codec):
    await client.post("/signin", data={"token": admin[1]})
    encrypted = await codec.encode([plain_payload()])
    response = await client.post(
        "/codec/decode", json=wire(*encrypted), headers={"origin": UI_ORIGIN, "x-namespace": "default"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert from_wire(response.json()) == [plain_payload()]


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "http://localhost:8233"])
async def test_other_origins_get_no_cors_headers(client, admin, codec, origin):
    preflight = await client.options(
        "/codec/decode",
        headers={"origin": origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code >= 400
    assert not [h for h in preflight.headers if h.startswith("access-control-")]
    await client.post("/signin", data={"token": admin[1]})
    post = await client.post("/codec/decode", json={"payloads": []}, headers={"origin": origin})
    assert not [h for h in post.headers if h.startswith("access-control-")]


async def test_the_rest_of_the_api_gets_no_cors_headers(client, admin):
    preflight = await client.options(
        "/api/me", headers={"origin": UI_ORIGIN, "access-control-request-method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = await client.get("/api/me", headers={"origin": UI_ORIGIN, **bearer(admin[1])})
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]
    # A path that only starts like the codec's is not the codec.
    lookalike = await client.options(
        "/codecs", headers={"origin": UI_ORIGIN, "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in lookalike.headers
