"""Identity lifetimes, on an emulator configured with seconds instead of minutes and days."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.emulator.helpers import (
    DEFAULT_SCOPES,
    assert_graph_error,
    assert_oauth_error,
    assert_revoke_covers_rotated_refresh_tokens,
    authorize_with_consent,
    connect,
    create_user,
    deliver,
    new_msal_app,
    refresh,
    register_app,
    token_request,
)
from tests.support.emulator_server import RunningEmulator, start_emulator

ACCESS = 2  # access token and auth code lifetime, seconds
INACTIVITY = 4  # refresh token inactivity, seconds
DELTA = 3  # delta token lifetime, seconds


@pytest.fixture(scope="module")
def short_emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    emu = start_emulator(
        tmp_path_factory.mktemp("emulator-short"),
        no_snapshot=True,
        access_token_lifetime_min=ACCESS,
        access_token_lifetime_max=ACCESS,
        refresh_token_inactivity_seconds=INACTIVITY,
        auth_code_lifetime_seconds=ACCESS,
        # Microsoft's documented behaviour: using a refresh token does not revoke it.
        refresh_token_reuse_allowed=True,
        delta_token_lifetime_seconds=DELTA,
    )
    try:
        yield emu
    finally:
        emu.stop()


async def test_expired_access_token_is_401_invalid_authentication_token(short_emulator):
    conn = await connect(short_emulator)
    assert conn.result["expires_in"] <= ACCESS
    async with conn.graph() as g:
        assert (await g.get("/me")).status_code == 200
        await asyncio.sleep(ACCESS + 0.5)
        assert_graph_error(await g.get("/me"), 401, "InvalidAuthenticationToken")
    # The cure graph-facts prescribes: refresh once, retry.
    resp = await refresh(conn)
    assert resp.status_code == 200, resp.text
    async with conn.graph(token=resp.json()["access_token"]) as g:
        assert (await g.get("/me")).status_code == 200


async def test_refresh_token_expires_after_inactivity_700082(short_emulator):
    conn = await connect(short_emulator)
    # Using it within the window keeps the chain alive, and its successor starts a new window.
    first = await refresh(conn)
    assert first.status_code == 200, first.text
    await asyncio.sleep(INACTIVITY + 0.5)
    stale = await refresh(conn, refresh_token=first.json()["refresh_token"])
    assert_oauth_error(stale, "invalid_grant", 700082)


async def test_auth_code_expires(short_emulator):
    app = await register_app(short_emulator)
    email = await create_user(short_emulator)
    cca = await new_msal_app(short_emulator, app)
    flow, params = await authorize_with_consent(short_emulator, app, cca, email, DEFAULT_SCOPES)
    await asyncio.sleep(ACCESS + 0.5)
    resp = await token_request(
        short_emulator,
        {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": params["code"],
            "redirect_uri": app.redirect_uri,
            "code_verifier": flow["code_verifier"],
            "scope": "User.Read offline_access",
        },
    )
    assert_oauth_error(resp, "invalid_grant", 70008)


async def test_old_refresh_token_stays_valid_when_reuse_is_allowed(short_emulator):
    """Entra does not revoke a refresh token when used (refresh-tokens doc); the emulator can mimic it."""
    conn = await connect(short_emulator)
    first = await refresh(conn)
    assert first.status_code == 200, first.text
    again = await refresh(conn)  # the original token, already rotated once
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != first.json()["refresh_token"]


async def test_expired_delta_token_is_410(short_emulator):
    conn = await connect(short_emulator)
    await deliver(short_emulator, conn.email)
    async with conn.graph() as g:
        url = "/me/mailFolders/inbox/messages/delta"
        while True:
            page = (await g.get(url)).json()
            if "@odata.deltaLink" in page:
                break
            url = page["@odata.nextLink"]
    await asyncio.sleep(DELTA + 0.3)
    fresh = await refresh(conn)  # the access token expired meanwhile; the refresh token did not
    assert fresh.status_code == 200, fresh.text
    async with conn.graph(token=fresh.json()["access_token"]) as g:
        resp = await g.get(page["@odata.deltaLink"])
    assert_graph_error(resp, 410, None)
    assert resp.json()["error"]["code"] in ("syncStateNotFound", "resyncRequired", "SyncStateNotFound")


async def test_revoke_covers_rotated_refresh_tokens_when_reuse_is_allowed(short_emulator):
    """With Entra's reuse rule an old refresh token stays valid, until the grant is revoked: then every
    refresh token of the user fails with the reason's error."""
    await assert_revoke_covers_rotated_refresh_tokens(short_emulator)
