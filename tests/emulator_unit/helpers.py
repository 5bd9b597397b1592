"""Shared steps: register an app, sign a user in through unmodified MSAL, get tokens."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import msal

from tests.support.emulator_server import RunningEmulator

REDIRECT = "http://127.0.0.1:8000/oauth/callback"


def register_app(emu: RunningEmulator) -> tuple[str, str]:
    client_id, secret = secrets.token_hex(8), secrets.token_urlsafe(16)
    with emu.client() as c:
        r = c.post(
            "/_emulator/apps",
            json={
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": [REDIRECT],
                "display_name": "Test app",
            },
        )
        assert r.status_code == 201, r.text
    return client_id, secret


def msal_app(emu: RunningEmulator, client_id: str, secret: str) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=emu.authority("common"),
        instance_discovery=False,
        verify=str(emu.ca_path),
    )


def sign_in(
    emu: RunningEmulator,
    app: msal.ConfidentialClientApplication,
    email: str,
    scopes: list[str] | None = None,
    consent_scopes: list[str] | None = None,
) -> dict[str, Any]:
    scopes = scopes or ["User.Read", "Mail.Read", "Mail.Send"]
    with emu.client() as c:
        c.post("/_emulator/users", json={"email": email, "display_name": email.split("@")[0].title()})
        body: dict[str, Any] = {"email": email}
        if consent_scopes is not None:
            body["scopes"] = consent_scopes
        assert c.post("/_emulator/consent", json=body).status_code == 201
    flow = app.initiate_auth_code_flow(scopes, redirect_uri=REDIRECT, login_hint=email)
    with httpx.Client(verify=str(emu.ca_path)) as c:
        r = c.get(flow["auth_uri"], follow_redirects=False)
        assert r.status_code == 302, r.text
        location = httpx.URL(r.headers["location"])
    params = dict(location.params)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    return dict(result)
