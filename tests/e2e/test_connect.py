"""Connecting a mailbox end to end: unmodified MSAL against the emulator, tokens in OpenBao, the
connection workflow on a real Temporal dev server, the API's pages and webhooks over real HTTP.

The last test scans everything this module produced (workflow histories, the service's log, the
database file) for every token the emulator issued, the client secret and the clientStates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from db.connections import Connection
from models.connection import ConnectionStatus
from tests.e2e.conftest import CLIENT_SECRET, Stack
from tests.e2e.helpers import (
    CLIENT_STATES,
    connect,
    eventually,
    new_mailbox,
    pre_answer_consent,
    remember_client_states,
    revoke,
    vault_paths,
    wait_status,
)
from tests.replay.record import HISTORIES, RECORD, write_histories
from workflows.connection import ConnectionWorkflow


async def record_history(stack: Stack, workflow_id: str, name: str) -> None:
    """Every run of the workflow (continue-as-new makes several) as Temporal's JSON history."""
    if RECORD:
        await write_histories(stack.env.client, workflow_id, name)


async def test_connect_revoke_reconnect_disconnect(stack: Stack) -> None:
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, email, scopes="incoming,outgoing")

        active = await wait_status(stack, token, connection_id, "active")
        assert active["mailbox"] == email
        assert {"Mail.Read", "Mail.Send", "User.Read"} <= set(active["granted_scopes"])
        assert active["subscription_expires_at"]
        await remember_client_states(stack)
        assert sorted(vault_paths(stack, connection_id)) == ["subscription", "tokens"]

        # Findable in the Temporal UI by its search attributes.
        query = f'ConnectionId = "{connection_id}" AND Mailbox = "{email}" AND ConnectionStatus = "active"'

        async def listed() -> list[Any]:
            return [w async for w in stack.env.client.list_workflows(query)]

        found = await eventually(listed, what="workflow in visibility")
        assert found[0].id == f"connection/{connection_id}"

        # The user revokes consent in Microsoft: Graph's lifecycle notice makes it show at once.
        await revoke(stack, email, "consent_revoked")
        revoked = await wait_status(stack, token, connection_id, "revoked")
        assert "consent" in revoked["status_reason"]

        # Reconnect: a new consent for the same connection brings it back.
        async with httpx.AsyncClient(base_url=stack.api_url) as api:
            r = await api.post(
                f"/api/connections/{connection_id}/reconnect", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 200, r.text
            url = r.json()["url"]
        await pre_answer_consent(stack, email)
        back = await browser.get(url)
        assert back.status_code == 200 and back.url.path == f"/connections/{connection_id}"
        await wait_status(stack, token, connection_id, "active")
        await remember_client_states(stack)

        # Disconnect: subscription deleted, every Vault version and the metadata destroyed, workflow ended.
        async with httpx.AsyncClient(base_url=stack.api_url) as api:
            r = await api.delete(
                f"/api/connections/{connection_id}", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 202, r.text
        await wait_status(stack, token, connection_id, "disconnected")
        handle = stack.env.client.get_workflow_handle_for(
            ConnectionWorkflow.run, f"connection/{connection_id}"
        )
        assert (await handle.result()).status is ConnectionStatus.DISCONNECTED
        assert vault_paths(stack, connection_id) == []
        async with stack.emulator_control() as control:
            subs = (await control.get("/_emulator/subscriptions")).json()
        assert not [s for s in subs if s["mailbox"] == email]
        await record_history(stack, f"connection/{connection_id}", "connection-lifecycle")


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("admin_reset", "password reset by an admin"),
        ("inactive", "inactive for too long"),
        ("mfa_required", "MFA now required"),
    ],
)
async def test_each_revocation_reason_is_explained(stack: Stack, reason: str, shown: str) -> None:
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, email)
    await wait_status(stack, token, connection_id, "active")
    await remember_client_states(stack)
    await revoke(stack, email, reason)
    revoked = await wait_status(stack, token, connection_id, "revoked")
    assert shown in revoked["status_reason"]
    # No retry storm: the refresh is not attempted again while revoked.
    async with stack.emulator_control() as control:
        before = (await control.get("/_emulator/requests")).json()
        await asyncio.sleep(2)
        after = (await control.get("/_emulator/requests")).json()
    assert len(after) == len(before)
    await record_history(stack, f"connection/{connection_id}", f"connection-revoked-{reason}")
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        await api.delete(f"/api/connections/{connection_id}", headers={"Authorization": f"Bearer {token}"})
    await wait_status(stack, token, connection_id, "disconnected")


def count_connections(stack: Stack) -> int:
    with stack.engine.connect() as db:
        return int(db.execute(select(func.count()).select_from(Connection)).scalar_one())


async def test_bad_callbacks_store_nothing(stack: Stack) -> None:
    email = await new_mailbox(stack)
    browser, _token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    before = count_connections(stack)
    workflows_before = [w async for w in stack.env.client.list_workflows("")]
    async with contextlib.aclosing(browser):
        # Declined consent.
        await pre_answer_consent(stack, email, deny=True)
        declined = await browser.get(f"{stack.api_url}/connect/outlook?scopes=incoming")
        assert declined.status_code == 400 and "declined" in declined.text

        # A callback whose state this service never issued (CSRF) and one without state.
        forged = await browser.get(f"{stack.api_url}/oauth/callback?code=abc&state=not-ours")
        assert forged.status_code == 400
        assert (await browser.get(f"{stack.api_url}/oauth/callback?code=abc")).status_code == 400

        # A callback replayed after it was used, and a code redeemed twice.
        browser.follow_redirects = False
        await pre_answer_consent(stack, email)
        start = await browser.get(f"{stack.api_url}/connect/outlook?scopes=incoming")
        consent = await browser.get(start.headers["location"])
        callback_url = consent.headers["location"]
        assert "code=" in callback_url
        first = await browser.get(callback_url)
        assert first.status_code == 303
        replayed = await browser.get(callback_url)
        assert replayed.status_code == 400 and "already used" in replayed.text

        await pre_answer_consent(stack, email)
        again = await browser.get(f"{stack.api_url}/connect/outlook?scopes=incoming")
        second_consent = await browser.get(again.headers["location"])
        fresh = httpx.URL(second_consent.headers["location"])
        old_code = httpx.URL(callback_url).params["code"]
        reused = await browser.get(fresh.copy_set_param("code", old_code))
        assert reused.status_code == 400 and "already used" in reused.text

        # Bad input to the connect endpoint itself.
        bad = await browser.get(f"{stack.api_url}/connect/outlook?scopes=calendar")
        assert bad.status_code == 400 and "incoming, outgoing" in bad.text

    # Only the one good callback made a connection (and it is the reconnect target of the second).
    assert count_connections(stack) == before + 1
    workflows_after = [w async for w in stack.env.client.list_workflows("")]
    assert len(workflows_after) <= len(workflows_before) + 1
    await remember_client_states(stack)


async def test_nothing_secret_leaks_anywhere(stack: Stack) -> None:
    """Runs last in this module: scans what the tests above left behind."""
    async with stack.emulator_control() as control:
        issued = (await control.get("/_emulator/issued-tokens")).json()
    secrets = {t for kind in ("access_tokens", "refresh_tokens", "auth_codes") for t in issued[kind]}
    assert len(secrets) > 10, "the tests above should have issued tokens"
    secrets |= CLIENT_STATES | {CLIENT_SECRET}
    assert CLIENT_STATES, "the tests above should have created subscriptions"

    histories: list[str] = []
    async for execution in stack.env.client.list_workflows(""):
        handle = stack.env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
        histories.append((await handle.fetch_history()).to_json())
    assert histories
    log_text = stack.log_path.read_text(errors="replace")
    assert "connection" in log_text.lower()
    database = b"".join(
        p.read_bytes() for p in stack.settings.data_dir.glob("app.db*") if p.is_file()
    ).decode("latin-1")
    recorded = "".join(p.read_text() for p in HISTORIES.glob("*.json")) if HISTORIES.exists() else ""

    for place, text in (
        ("workflow histories", "".join(histories)),
        ("service log", log_text),
        ("database", database),
        ("recorded histories", recorded),
    ):
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, f"{len(leaked)} secret(s) found in the {place}"
    assert json.dumps(histories)  # histories are plain JSON, so the scan above read all of them
