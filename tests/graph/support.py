"""Helpers for the graph tests: drive the emulator's control API and the consent flow as a script.

The consent page is pre-answered with POST /_emulator/consent, then the authorize URL is fetched with
httpx following the emulator's own redirects until it redirects to our redirect URI, whose query
string is what the service's /oauth/callback would receive.
"""

from __future__ import annotations

import http.server
import itertools
import ssl
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from pydantic import SecretStr

from graph.identity import Identity, TokenSet
from tests.support.emulator_server import RunningEmulator

SCOPES = ["User.Read", "Mail.Read", "Mail.Send"]
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}-{uuid.uuid4().hex[:8]}"


def tls(emu: RunningEmulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(emu.ca_path))


def control(emu: RunningEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{emu.base_url}/_emulator", verify=tls(emu), timeout=30)


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str
    redirect_uri: str

    def identity(self, emu: RunningEmulator) -> Identity:
        return Identity(
            self.client_id, SecretStr(self.client_secret), emu.authority("common"), ca_bundle=emu.ca_path
        )


async def register_app(emu: RunningEmulator) -> RegisteredApp:
    app = RegisteredApp(
        client_id=str(uuid.uuid4()),
        client_secret=unique("graph-test-secret-"),
        redirect_uri=f"http://127.0.0.1:8000/{unique('cb')}/oauth/callback",
    )
    async with control(emu) as c:
        resp = await c.post(
            "/apps",
            json={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uris": [app.redirect_uri],
                "display_name": "graph tests",
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


async def pre_consent(emu: RunningEmulator, email: str, scopes: list[str], deny: bool = False) -> None:
    body: dict[str, Any] = {"email": email, "deny": True} if deny else {"email": email, "scopes": scopes}
    async with control(emu) as c:
        resp = await c.post("/consent", json=body)
    assert resp.status_code in (200, 201, 204), resp.text


async def run_consent(emu: RunningEmulator, auth_uri: str, redirect_uri: str) -> dict[str, str]:
    """Follows the emulator's redirects from the authorize URL to our redirect URI; returns its query."""
    url = auth_uri
    async with httpx.AsyncClient(verify=tls(emu), timeout=30) as http:
        for _hop in range(10):
            resp = await http.get(url)
            assert resp.status_code in (301, 302, 303, 307), (resp.status_code, resp.text[:300])
            url = urljoin(url, resp.headers["location"])
            if url.startswith(redirect_uri):
                return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    raise AssertionError("never redirected to the redirect URI")


async def connect(
    emu: RunningEmulator, app: RegisteredApp, identity: Identity, scopes: list[str] | None = None
) -> tuple[str, TokenSet]:
    scopes = scopes or SCOPES
    email = await create_user(emu)
    flow = await identity.initiate_auth_code_flow(scopes, app.redirect_uri, login_hint=email)
    await pre_consent(emu, email, scopes)
    params = await run_consent(emu, flow["auth_uri"], app.redirect_uri)
    return email, await identity.redeem(flow, params)


async def revoke(emu: RunningEmulator, email: str, reason: str) -> None:
    async with control(emu) as c:
        resp = await c.post(f"/users/{email}/revoke", json={"reason": reason})
    assert resp.status_code in (200, 202, 204), resp.text


async def deliver(emu: RunningEmulator, email: str, **fields: Any) -> dict[str, Any]:
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


async def request_log(emu: RunningEmulator, mailbox: str) -> list[dict[str, Any]]:
    async with control(emu) as c:
        resp = await c.get("/requests")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    entries = data.get("value", data) if isinstance(data, dict) else data
    return [e for e in entries if e.get("mailbox") == mailbox]


async def issued_tokens(emu: RunningEmulator) -> str:
    async with control(emu) as c:
        resp = await c.get("/issued-tokens")
    assert resp.status_code == 200, resp.text
    return resp.text


class ValidatingReceiver:
    """A loopback HTTP webhook that answers Graph's validation handshake (the emulator accepts http
    on loopback) and accepts notifications with 202."""

    def __init__(self) -> None:
        outer = self
        self.received: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if "validationToken" in query:
                    token = query["validationToken"][0].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(token)))
                    self.end_headers()
                    self.wfile.write(token)
                    return
                outer.received.append(body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ValidatingReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
