"""Identity: the token endpoint's grants and its errors, in Microsoft's exact shape (graph-facts.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.emulator.helpers import (
    DEFAULT_SCOPES,
    App,
    assert_oauth_error,
    assert_revoke_covers_rotated_refresh_tokens,
    authorize_with_consent,
    connect,
    create_user,
    new_msal_app,
    refresh,
    register_app,
    revoke,
    tls,
    token_request,
)


async def _code(emulator, scopes=None) -> tuple[App, dict[str, Any], dict[str, str]]:
    app = await register_app(emulator)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow, params = await authorize_with_consent(emulator, app, cca, email, scopes or DEFAULT_SCOPES)
    return app, flow, params


def _redeem(app: App, flow: dict[str, Any], params: dict[str, str], **overrides: str) -> dict[str, str]:
    data = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "code": params["code"],
        "redirect_uri": app.redirect_uri,
        "code_verifier": flow["code_verifier"],
        "scope": " ".join([*DEFAULT_SCOPES, "offline_access", "openid", "profile"]),
    }
    data.update(overrides)
    return data


async def test_auth_code_grant_success_shape(emulator):
    app, flow, params = await _code(emulator)
    resp = await token_request(emulator, _redeem(app, flow, params))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and 3600 <= body["expires_in"] <= 5400
    assert isinstance(body["ext_expires_in"], int)
    assert body["access_token"] and body["refresh_token"] and body["id_token"]
    granted = {s.rsplit("/", 1)[-1].lower() for s in body["scope"].split()}
    assert {"user.read", "mail.read", "mail.send"} <= granted


async def test_auth_code_is_single_use_54005(emulator):
    app, flow, params = await _code(emulator)
    first = await token_request(emulator, _redeem(app, flow, params))
    assert first.status_code == 200, first.text
    again = await token_request(emulator, _redeem(app, flow, params))
    assert_oauth_error(again, "invalid_grant", 54005)


async def test_auth_code_needs_the_pkce_verifier(emulator):
    app, flow, params = await _code(emulator)
    wrong = await token_request(emulator, _redeem(app, flow, params, code_verifier="A" * 43))
    assert_oauth_error(wrong, "invalid_grant")
    # Without any verifier the code is not redeemable either.
    data = _redeem(app, flow, params)
    del data["code_verifier"]
    missing = await token_request(emulator, data)
    assert missing.status_code == 400
    assert missing.json()["error"] in ("invalid_grant", "invalid_request")


async def test_auth_code_is_bound_to_its_redirect_uri_and_client(emulator):
    app, flow, params = await _code(emulator)
    other = await register_app(emulator)
    stolen = await token_request(
        emulator, _redeem(app, flow, params, client_id=other.client_id, client_secret=other.client_secret)
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    bad_redirect = await token_request(
        emulator, _redeem(app, flow, params, redirect_uri=app.redirect_uri + "x")
    )
    assert_oauth_error(bad_redirect, "invalid_grant", 500112)
    assert "reply address" in bad_redirect.json()["error_description"]


async def test_refresh_token_rotates_and_new_tokens_work(emulator):
    conn = await connect(emulator)
    resp = await refresh(conn)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["refresh_token"] and body["refresh_token"] != conn.refresh_token
    assert body["access_token"] != conn.access_token
    async with conn.graph(token=body["access_token"]) as g:
        assert (await g.get("/me")).status_code == 200
    # The newest refresh token must work in turn.
    again = await refresh(conn, refresh_token=body["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] not in (body["refresh_token"], conn.refresh_token)


async def test_reused_refresh_token_is_refused_by_default_in_microsoft_shape(emulator):
    """The emulator is stricter than Entra by default (which keeps old refresh tokens valid), so a
    service that does not store the newest token fails here; the answer must still be Entra's shape."""
    conn = await connect(emulator)
    assert (await refresh(conn)).status_code == 200
    reused = await refresh(conn)
    assert_oauth_error(reused, "invalid_grant", 70008)


async def test_msal_refresh_returns_a_rotated_token(emulator):
    conn = await connect(emulator)
    result = await asyncio.to_thread(
        conn.msal_app.acquire_token_by_refresh_token, conn.refresh_token, ["Mail.Read"]
    )
    assert "access_token" in result, result
    assert result["refresh_token"] != conn.refresh_token


@pytest.mark.parametrize(
    ("reason", "error", "code"),
    [
        ("consent_revoked", "invalid_grant", 50173),
        ("admin_reset", "invalid_grant", 50173),
        ("inactive", "invalid_grant", 700082),
        ("mfa_required", "interaction_required", 50076),
    ],
)
async def test_revoke_makes_refresh_fail_with_matching_error(emulator, reason, error, code):
    conn = await connect(emulator)
    await revoke(emulator, conn.email, reason)
    resp = await refresh(conn)
    assert_oauth_error(resp, error, code)
    # MSAL surfaces the same answer unchanged.
    result = await asyncio.to_thread(
        conn.msal_app.acquire_token_by_refresh_token, conn.refresh_token, ["User.Read"]
    )
    assert result.get("error") == error, result
    assert code in result.get("error_codes", []), result


async def test_revoke_rejects_unknown_reason(emulator):
    conn = await connect(emulator)
    async with httpx.AsyncClient(base_url=emulator.base_url, verify=tls(emulator)) as c:
        resp = await c.post(f"/_emulator/users/{conn.email}/revoke", json={"reason": "bored"})
    assert 400 <= resp.status_code < 500
    assert (await refresh(conn)).status_code == 200


async def test_refresh_for_scopes_never_consented_is_consent_required_65001(emulator):
    conn = await connect(emulator, scopes=["User.Read"])
    resp = await refresh(conn, scope="User.Read Mail.Send offline_access")
    assert_oauth_error(resp, "consent_required", 65001)


async def test_wrong_client_secret_is_invalid_client(emulator):
    conn = await connect(emulator)
    resp = await token_request(
        emulator,
        {
            "grant_type": "refresh_token",
            "client_id": conn.app.client_id,
            "client_secret": "not-the-secret",
            "refresh_token": conn.refresh_token,
            "scope": "User.Read offline_access",
        },
    )
    # Entra answers invalid_client with 401 (RFC 6749 allows 400); the body shape is the same.
    assert resp.status_code in (400, 401)
    assert_oauth_error(resp, "invalid_client", status=resp.status_code)


async def test_unknown_scope_is_invalid_scope(emulator):
    conn = await connect(emulator)
    resp = await refresh(conn, scope="Mail.Fly offline_access")
    assert_oauth_error(resp, "invalid_scope", 70011)


async def test_garbage_refresh_token_is_invalid_grant(emulator):
    conn = await connect(emulator)
    resp = await refresh(conn, refresh_token="not-a-refresh-token")
    assert_oauth_error(resp, "invalid_grant")


async def test_unsupported_grant_type(emulator):
    app = await register_app(emulator)
    resp = await token_request(
        emulator,
        {"grant_type": "password", "client_id": app.client_id, "client_secret": app.client_secret},
    )
    assert_oauth_error(resp, "unsupported_grant_type")


async def test_refresh_token_of_another_app_is_refused(emulator):
    conn = await connect(emulator)
    other = await register_app(emulator)
    resp = await token_request(
        emulator,
        {
            "grant_type": "refresh_token",
            "client_id": other.client_id,
            "client_secret": other.client_secret,
            "refresh_token": conn.refresh_token,
            "scope": "User.Read offline_access",
        },
    )
    assert_oauth_error(resp, "invalid_grant")


async def test_revoke_also_covers_already_rotated_refresh_tokens(emulator):
    """An older (rotated) refresh token must answer the revoke reason's error, not 70008."""
    await assert_revoke_covers_rotated_refresh_tokens(emulator)


async def test_missing_client_secret_is_invalid_client_7000218(emulator):
    conn = await connect(emulator)
    resp = await token_request(
        emulator,
        {
            "grant_type": "refresh_token",
            "client_id": conn.app.client_id,
            "refresh_token": conn.refresh_token,
            "scope": "User.Read offline_access",
        },
    )
    assert_oauth_error(resp, "invalid_client", 7000218, status=401)
    # The refresh token was not spent by the refused request.
    assert (await refresh(conn)).status_code == 200
