"""The token log (GET /_emulator/token-requests): every refresh-token grant with its outcome, whose grant
it was and a SHA-256 of the token presented, never the token itself."""

from __future__ import annotations

import hashlib
import time

from tests.emulator.helpers import connect, control, refresh, revoke


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_refresh_grants_are_logged_by_digest(emulator):
    since = time.time()
    conn = await connect(emulator)
    first = conn.refresh_token
    renewed = await refresh(conn)
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()["refresh_token"]
    await revoke(emulator, conn.email, "consent_revoked")
    refused = await refresh(conn, refresh_token=second)
    assert refused.status_code == 400

    async with control(emulator) as c:
        r = await c.get("/token-requests", params={"mailbox": conn.email, "since": str(since)})
        everyone = (await c.get("/token-requests", params={"since": str(since)})).json()
    assert r.status_code == 200, r.text
    logged = r.json()
    assert [(e["grant_type"], e["status"], e["refresh_token_sha256"]) for e in logged] == [
        ("refresh_token", 200, digest(first)),
        ("refresh_token", 400, digest(second)),
    ]
    assert all(e["mailbox"] == conn.email and e["client_id"] == conn.app.client_id for e in logged)
    assert first not in r.text and second not in r.text
    # `since` filters by time; without `mailbox` every mailbox's grants are listed.
    assert all(e["time"] >= since for e in everyone) and len(everyone) >= len(logged)
