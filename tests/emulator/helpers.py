"""Black-box helpers for the emulator tests: register apps and users, connect with unmodified MSAL,
deliver messages through the control API, and check error shapes against graph-facts.md."""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msal

from tests.support.emulator_server import RunningEmulator

DEFAULT_SCOPES = ["User.Read", "Mail.Read", "Mail.Send"]
_seq = itertools.count(1)

OAUTH_ERROR_FIELDS = {
    "error",
    "error_description",
    "error_codes",
    "timestamp",
    "trace_id",
    "correlation_id",
    "error_uri",
}


@functools.cache
def _tls(ca_path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_path)


def tls(emu: RunningEmulator) -> ssl.SSLContext:
    """An SSL context trusting the emulator's CA (httpx deprecates verify=<path>)."""
    return _tls(str(emu.ca_path))


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}-{uuid.uuid4().hex[:8]}"


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass
class Connection:
    """A mailbox connected through an app: what the service would hold after the consent flow."""

    emu: RunningEmulator
    app: App
    email: str
    msal_app: msal.ConfidentialClientApplication
    result: dict[str, Any]
    refresh_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def access_token(self) -> str:
        return str(self.result["access_token"])

    def graph(self, prefer: str | None = None, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token or self.access_token}"}
        if prefer:
            headers["Prefer"] = prefer
        return httpx.AsyncClient(
            base_url=self.emu.graph_url, verify=tls(self.emu), headers=headers, timeout=30
        )


def control(emu: RunningEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{emu.base_url}/_emulator", verify=tls(emu), timeout=30)


async def register_app(emu: RunningEmulator, redirect_uri: str | None = None) -> App:
    app = App(
        client_id=str(uuid.uuid4()),
        client_secret=unique("secret-"),
        redirect_uri=redirect_uri or f"http://localhost:8765/{unique('cb')}/callback",
    )
    async with control(emu) as c:
        resp = await c.post(
            "/apps",
            json={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uris": [app.redirect_uri],
                "display_name": "Emulator test app",
            },
        )
    assert resp.status_code == 201, resp.text
    return app


async def create_user(emu: RunningEmulator, name: str = "user") -> str:
    email = f"{unique(name)}@contoso.test"
    async with control(emu) as c:
        resp = await c.post("/users", json={"email": email, "display_name": f"Test {name}"})
    assert resp.status_code == 201, resp.text
    return email


async def pre_consent(emu: RunningEmulator, email: str, scopes: list[str] | None = None, deny: bool = False):
    body: dict[str, Any] = {"email": email, "deny": True} if deny else {"email": email, "scopes": scopes}
    async with control(emu) as c:
        resp = await c.post("/consent", json=body)
    assert resp.status_code in (200, 201, 204), resp.text


async def new_msal_app(emu: RunningEmulator, app: App, tenant: str = "common"):
    # The constructor fetches the discovery document: a blocking call.
    return await asyncio.to_thread(
        msal.ConfidentialClientApplication,
        app.client_id,
        client_credential=app.client_secret,
        authority=emu.authority(tenant),
        instance_discovery=False,
        verify=str(emu.ca_path),  # MSAL (requests) takes a CA file path
    )


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorize_with_consent(
    emu: RunningEmulator, app: App, cca: msal.ConfidentialClientApplication, email: str, scopes: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Runs the authorize step as a scripted client: pre-answer consent, GET authorize, read the redirect."""
    flow = cca.initiate_auth_code_flow(scopes, redirect_uri=app.redirect_uri, login_hint=email)
    await pre_consent(emu, email, scopes)
    async with httpx.AsyncClient(verify=tls(emu)) as http:
        resp = await http.get(flow["auth_uri"])
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:500])
    location = resp.headers["location"]
    assert location.startswith(app.redirect_uri), location
    return flow, query_of(location)


async def connect(
    emu: RunningEmulator,
    scopes: list[str] | None = None,
    email: str | None = None,
    app: App | None = None,
) -> Connection:
    scopes = scopes or DEFAULT_SCOPES
    app = app or await register_app(emu)
    email = email or await create_user(emu)
    cca = await new_msal_app(emu, app)
    flow, params = await authorize_with_consent(emu, app, cca, email, scopes)
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, params)
    assert "access_token" in result, result
    return Connection(emu, app, email, cca, result, refresh_token=result.get("refresh_token", ""))


async def discovery(emu: RunningEmulator, tenant: str = "common") -> dict[str, Any]:
    async with httpx.AsyncClient(verify=tls(emu)) as http:
        resp = await http.get(f"{emu.authority(tenant)}/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def token_request(emu: RunningEmulator, data: dict[str, str], tenant: str = "common") -> httpx.Response:
    doc = await discovery(emu, tenant)
    async with httpx.AsyncClient(verify=tls(emu)) as http:
        return await http.post(doc["token_endpoint"], data=data)


async def refresh(conn: Connection, refresh_token: str | None = None, scope: str | None = None):
    data = {
        "grant_type": "refresh_token",
        "client_id": conn.app.client_id,
        "client_secret": conn.app.client_secret,
        "refresh_token": refresh_token or conn.refresh_token,
        "scope": scope or " ".join([*DEFAULT_SCOPES, "offline_access"]),
    }
    return await token_request(conn.emu, data)


def assert_oauth_error(resp: httpx.Response, error: str, code: int | None = None, status: int = 400) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert OAUTH_ERROR_FIELDS <= set(body), f"missing {OAUTH_ERROR_FIELDS - set(body)} in {body}"
    assert body["error"] == error, body
    assert isinstance(body["error_codes"], list), body
    assert all(isinstance(c, int) for c in body["error_codes"]), body
    if code is not None:
        assert code in body["error_codes"], body
        # Microsoft's descriptions always lead with the AADSTS code.
        assert body["error_description"].startswith(f"AADSTS{code}"), body
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"]), body
    uuid.UUID(body["trace_id"])
    uuid.UUID(body["correlation_id"])
    assert body["error_uri"].startswith("https://"), body


def assert_graph_error(resp: httpx.Response, status: int, code: str | None) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    err = resp.json()["error"]
    assert err["code"] == code if code else err["code"], err
    assert isinstance(err["message"], str) and err["message"], err
    inner = err["innerError"]
    assert inner["request-id"], err
    assert inner["date"], err
    datetime.fromisoformat(inner["date"].replace("Z", "+00:00"))
    assert resp.headers.get("request-id") == inner["request-id"], resp.headers
    return dict(err)


def mail_address(addr: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"address": addr, "name": name or addr.split("@")[0]}}


async def deliver(emu: RunningEmulator, email: str, **fields: Any) -> dict[str, Any]:
    """Delivers a message into a mailbox through the control API; returns the control API's answer."""
    body: dict[str, Any] = {
        "folder": "inbox",
        "from": "sender@fabrikam.test",
        "to": [email],
        "subject": unique("Subject "),
        "body": "<p>Hello <b>there</b></p>",
        "body_type": "html",
    }
    body.update(fields)
    async with control(emu) as c:
        resp = await c.post(f"/users/{email}/messages", json=body)
    assert resp.status_code in (200, 201), resp.text
    return dict(resp.json())


async def move(emu: RunningEmulator, email: str, message_id: str, folder: str) -> httpx.Response:
    async with control(emu) as c:
        return await c.post(f"/users/{email}/messages/{message_id}/move", json={"folder": folder})


async def revoke(emu: RunningEmulator, email: str, reason: str) -> None:
    async with control(emu) as c:
        resp = await c.post(f"/users/{email}/revoke", json={"reason": reason})
    assert resp.status_code in (200, 202, 204), resp.text


def iso_in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_dt(value: str) -> datetime:
    value = value.replace("Z", "+00:00")
    # Graph writes seven fractional digits; fromisoformat accepts at most six.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    return datetime.fromisoformat(value)


def subscription_body(hook: Any, resource: str = "me/mailFolders('inbox')/messages", **extra: Any):
    body = {
        "changeType": "created,updated",
        "notificationUrl": hook.notify_url,
        "lifecycleNotificationUrl": hook.lifecycle_url,
        "resource": resource,
        "expirationDateTime": iso_in(24 * 60),
        "clientState": unique("state-"),
    }
    body.update(extra)
    return body


async def assert_revoke_covers_rotated_refresh_tokens(emu: RunningEmulator) -> None:
    """After a revoke, the current refresh token and an older (rotated) one both answer the revoke
    reason's error (50173), not 70008 (spent) or 200 (reuse allowed)."""
    conn = await connect(emu)
    rotated = await refresh(conn)
    assert rotated.status_code == 200, rotated.text
    await revoke(emu, conn.email, "admin_reset")
    assert_oauth_error(await refresh(conn), "invalid_grant", 50173)
    assert_oauth_error(
        await refresh(conn, refresh_token=rotated.json()["refresh_token"]), "invalid_grant", 50173
    )
