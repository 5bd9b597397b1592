"""Change-notification throughput of the emulator.

Starts the emulator (free port, fresh temporary data dir) and a minimal receiver (FastAPI on uvicorn,
in its own process, answering 202), connects one mailbox through unmodified MSAL, subscribes to its
inbox, delivers N messages through the control API concurrently and measures, at the receiver, how
many notifications per second arrive. Target: at least 500/s.

    python -m bench emulator [--messages 1000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import ssl
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msal
import uvicorn
from fastapi import FastAPI, Request, Response

from tests.support.emulator_server import RunningEmulator, free_port, start_emulator

TARGET_PER_SECOND = 500.0


def _receiver_main(port: int) -> None:
    """The receiver process: validation handshake, 202 for notifications, GET /stats for the results."""
    app = FastAPI()
    arrivals: list[tuple[float, str, str]] = []
    posts: list[int] = []

    @app.post("/notify")
    async def notify(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return Response(content=token, media_type="text/plain")
        payload = await request.json()
        now = time.time()
        items = payload.get("value", [])
        posts.append(len(items))
        for item in items:
            arrivals.append((now, item.get("changeType", ""), item.get("resourceData", {}).get("id", "")))
        return Response(status_code=202)

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return {"arrivals": arrivals, "posts": posts}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Result:
    messages: int
    delivery_seconds: float
    notifications: int
    created_unique: int
    posts: int
    first_to_last_seconds: float
    overall_seconds: float  # first delivery request -> last notification
    created_seconds: float  # first delivery request -> last `created` notification
    latencies: list[float]  # per message: delivery answered -> its `created` notification arrived

    def latency(self, quantile: float) -> str:
        if not self.latencies:
            return "n/a (ids did not match)"
        return f"{self.latencies[min(len(self.latencies) - 1, int(quantile * len(self.latencies)))]:.3f} s"

    @property
    def per_second_first_to_last(self) -> float:
        return self.notifications / self.first_to_last_seconds if self.first_to_last_seconds else 0.0

    @property
    def per_second_overall(self) -> float:
        return self.notifications / self.overall_seconds if self.overall_seconds else 0.0

    @property
    def created_per_second_overall(self) -> float:
        return self.created_unique / self.created_seconds if self.created_seconds else 0.0


def _tls(emu: RunningEmulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(emu.ca_path))


async def _connect(emu: RunningEmulator, email: str) -> str:
    """Registers an app and a user, consents and redeems the code with MSAL; returns an access token."""
    client_id, secret, redirect = str(uuid.uuid4()), uuid.uuid4().hex, "http://localhost:8765/callback"
    app_body = {"client_id": client_id, "client_secret": secret, "redirect_uris": [redirect]}
    async with httpx.AsyncClient(base_url=emu.base_url, verify=_tls(emu)) as c:
        for path, body in (
            ("/_emulator/apps", app_body),
            ("/_emulator/users", {"email": email, "display_name": "Bench"}),
            ("/_emulator/consent", {"email": email, "scopes": ["User.Read", "Mail.Read"]}),
        ):
            resp = await c.post(path, json=body)
            resp.raise_for_status()
    cca = await asyncio.to_thread(
        msal.ConfidentialClientApplication,
        client_id,
        client_credential=secret,
        authority=emu.authority(),
        instance_discovery=False,
        verify=str(emu.ca_path),
    )
    flow = cca.initiate_auth_code_flow(["User.Read", "Mail.Read"], redirect_uri=redirect, login_hint=email)
    async with httpx.AsyncClient(verify=_tls(emu)) as http:
        location = (await http.get(flow["auth_uri"])).headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, params)
    if "access_token" not in result:
        raise RuntimeError(f"token acquisition failed: {result.get('error')}")
    return str(result["access_token"])


async def _wait_receiver(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                if (await http.get(f"{url}/stats")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("receiver did not start")


async def _stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        return dict((await http.get(f"{url}/stats")).json())


async def run(messages: int, concurrency: int) -> Result:
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    ctx = multiprocessing.get_context("spawn")
    receiver = ctx.Process(target=_receiver_main, args=(port,), daemon=True)
    receiver.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
            emu = start_emulator(Path(tmp), no_snapshot=True)
            try:
                await _wait_receiver(receiver_url)
                return await _measure(emu, receiver_url, messages, concurrency)
            finally:
                emu.stop()
    finally:
        receiver.terminate()
        receiver.join(timeout=10)


async def _measure(emu: RunningEmulator, receiver_url: str, messages: int, concurrency: int) -> Result:
    email = f"bench-{uuid.uuid4().hex[:8]}@contoso.test"
    token = await _connect(emu, email)
    expiry = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Immutable ids in notifications match the ids the control API returns, for per-message latency.
    headers = {"Authorization": f"Bearer {token}", "Prefer": 'IdType="ImmutableId"'}
    async with httpx.AsyncClient(base_url=emu.graph_url, verify=_tls(emu), headers=headers) as g:
        resp = await g.post(
            "/subscriptions",
            json={
                "changeType": "created,updated",
                "notificationUrl": f"{receiver_url}/notify",
                "resource": "me/mailFolders('inbox')/messages",
                "expirationDateTime": expiry,
                "clientState": uuid.uuid4().hex,
            },
        )
        if resp.status_code != 201:
            raise RuntimeError(f"subscription failed: {resp.status_code} {resp.text}")

    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=emu.base_url, verify=_tls(emu), limits=limits, timeout=60
    ) as control:

        async def deliver(i: int) -> None:
            async with semaphore:
                r = await control.post(
                    f"/_emulator/users/{email}/messages",
                    json={"folder": "inbox", "from": "load@fabrikam.test", "to": [email], "subject": f"m{i}"},
                )
                r.raise_for_status()
                delivered_at[r.json()["id"]] = time.time()

        delivered_at: dict[str, float] = {}
        started = time.time()
        await asyncio.gather(*(deliver(i) for i in range(messages)))
        delivered = time.time()

    deadline = time.monotonic() + 120
    while True:
        stats = await _stats(receiver_url)
        created = {a[2] for a in stats["arrivals"] if a[1] == "created"}
        if len(created) >= messages or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(0.5)  # trailing `updated` notifications
    stats = await _stats(receiver_url)
    times = sorted(a[0] for a in stats["arrivals"])
    created_times = [a[0] for a in stats["arrivals"] if a[1] == "created"]
    created = {a[2] for a in stats["arrivals"] if a[1] == "created"}
    first_created: dict[str, float] = {}
    for at, kind, message_id in stats["arrivals"]:
        if kind == "created" and message_id not in first_created:
            first_created[message_id] = at
    latencies = sorted(first_created[m] - delivered_at[m] for m in first_created.keys() & delivered_at.keys())
    return Result(
        messages=messages,
        delivery_seconds=delivered - started,
        notifications=len(times),
        created_unique=len(created),
        posts=len(stats["posts"]),
        first_to_last_seconds=(times[-1] - times[0]) if times else 0.0,
        overall_seconds=(times[-1] - started) if times else 0.0,
        created_seconds=(max(created_times) - started) if created_times else 0.0,
        latencies=latencies,
    )


def render(result: Result) -> str:
    rows = [
        ("messages delivered (control API)", f"{result.messages}"),
        ("delivery wall time", f"{result.delivery_seconds:.2f} s"),
        ("notifications received (all)", f"{result.notifications}"),
        ("distinct messages notified as created", f"{result.created_unique}"),
        ("notification POSTs (batches)", f"{result.posts}"),
        ("mean notifications per POST", f"{result.notifications / max(result.posts, 1):.1f}"),
        ("first -> last notification", f"{result.first_to_last_seconds:.2f} s"),
        ("delivery -> created notification p50", result.latency(0.5)),
        ("delivery -> created notification p95", result.latency(0.95)),
        ("notifications/s (first -> last)", f"{result.per_second_first_to_last:.0f}"),
        ("notifications/s (first delivery -> last notification)", f"{result.per_second_overall:.0f}"),
        ("created notifications/s (overall)", f"{result.created_per_second_overall:.0f}"),
    ]
    ok = result.created_unique == result.messages and result.per_second_overall >= TARGET_PER_SECOND
    rows.append((f"target >= {TARGET_PER_SECOND:.0f}/s overall, none lost", "PASS" if ok else "FAIL"))
    width = max(len(r[0]) for r in rows)
    lines = [f"emulator change notifications ({platform.node()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench emulator", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    # requests (under MSAL) lets these override MSAL's verify=<emulator CA>; this process needs neither.
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    result = asyncio.run(run(args.messages, args.concurrency))
    print(render(result))
    return 0 if result.created_unique == result.messages else 1
