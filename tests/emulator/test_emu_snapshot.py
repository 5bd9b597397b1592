"""Snapshots: a restart with the same snapshot file keeps users, messages, apps and grants."""

from __future__ import annotations

import asyncio

import httpx

from tests.emulator.helpers import Connection, connect, deliver, refresh, tls
from tests.support.emulator_server import start_emulator

IMMUTABLE = 'IdType="ImmutableId"'


async def test_restart_keeps_mailboxes_messages_and_grants(tmp_path):
    data_dir = tmp_path / "emu"
    snapshot = tmp_path / "state.json"
    with start_emulator(data_dir, snapshot=str(snapshot), snapshot_debounce_seconds=0.1) as first:
        conn = await connect(first)
        msg = await deliver(first, conn.email, subject="kept across restarts")
        async with conn.graph() as g:
            user_id = (await g.get("/me")).json()["id"]
        await asyncio.sleep(0.5)  # let a debounced snapshot land; stop() must also flush it
    assert snapshot.exists()
    # The snapshot holds tokens, the CA key signs certificates: owner-only files.
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert (data_dir / "ca-key.pem").stat().st_mode & 0o777 == 0o600

    with start_emulator(data_dir, snapshot=str(snapshot)) as second:
        moved = Connection(second, conn.app, conn.email, conn.msal_app, conn.result, conn.refresh_token)
        resp = await refresh(moved)
        assert resp.status_code == 200, resp.text
        tokens = resp.json()
        async with httpx.AsyncClient(
            base_url=second.graph_url,
            verify=tls(second),
            headers={"Authorization": f"Bearer {tokens['access_token']}", "Prefer": IMMUTABLE},
        ) as g:
            me = (await g.get("/me")).json()
            assert me["id"] == user_id
            got = await g.get(f"/me/messages/{msg['id']}", params={"$select": "subject"})
            assert got.status_code == 200, got.text
            assert got.json()["subject"] == "kept across restarts"
        # The rotated refresh token is what a later restart must honour.
        again = await refresh(moved, refresh_token=tokens["refresh_token"])
        assert again.status_code == 200, again.text
