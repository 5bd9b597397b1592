"""The webhook endpoints under hostile input: forged or unknown notifications never reach a workflow
(they are dropped and counted), and the validation handshake and body checks hold on both URLs. And
under failure: with Temporal unreachable a notification is stored, acknowledged and forwarded once
Temporal is back; a database that cannot store it makes the webhook answer 503, never 500."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from db.engine import create_db_engine, session_scope
from db.outbox import OutboxRow
from emulator.settings import EmulatorSettings
from tests.e2e.conftest import Stack
from tests.e2e.helpers import (
    eventually,
    replica_settings,
    running_api,
    signals_received,
)
from tests.e2e.test_messages import connected_with_recipe
from tests.support.servers import free_port

WEBHOOK_PATHS = ("/webhooks/graph", "/webhooks/graph/lifecycle")


def notification(subscription_id: str, client_state: str, message_id: str) -> dict[str, Any]:
    resource = f"Users/{uuid.uuid4()}/Messages/{message_id}"
    return {
        "subscriptionId": subscription_id,
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00+00:00",
        "changeType": "created",
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": resource,
            "@odata.etag": 'W/"x"',
            "id": message_id,
        },
        "clientState": client_state,
        # The mailbox's tenant, as Graph writes it: the webhook drops another tenant's notification.
        "tenantId": EmulatorSettings().tenant_id,
    }


async def mailbox_subscription(stack: Stack, mailbox: str) -> tuple[str, str]:
    """The mailbox's subscription in the emulator: (id, the genuine clientState)."""
    async with stack.emulator_control() as control:
        subs = [s for s in (await control.get("/_emulator/subscriptions")).json() if s["mailbox"] == mailbox]
    assert len(subs) == 1, subs
    return subs[0]["id"], subs[0]["client_state"]


async def test_forged_and_unknown_notifications_signal_no_workflow(stack: Stack) -> None:
    email, _token, connection_id, _board = await connected_with_recipe(stack)
    subscription_id, genuine_state = await mailbox_subscription(stack, email)
    # Another user's connection: its clientState is genuine, but not for this subscription.
    other_email, _other_token, _other_id, _other_board = await connected_with_recipe(stack)
    _other_subscription, other_state = await mailbox_subscription(stack, other_email)
    # A replica of the API (same database, Vault and Temporal) whose verifier this test can read.
    async with running_api(replica_settings(stack)) as (app, url), httpx.AsyncClient(base_url=url) as api:
        dropped: Counter[str] = app.state.webhook_verifier.dropped
        before = await signals_received(stack, connection_id)
        forged = [
            notification(subscription_id, "not-the-client-state", "AAMkForged1="),
            notification(subscription_id, genuine_state + "x", "AAMkForged2="),
            notification(subscription_id, other_state, "AAMkForged5="),
            notification(str(uuid.uuid4()), genuine_state, "AAMkForged3="),
            notification("not-even-a-uuid", "whatever", "AAMkForged4="),
        ]
        r = await api.post("/webhooks/graph", json={"value": forged})
        assert r.status_code == 202, r.text
        lifecycle = [{**forged[0], "lifecycleEvent": "missed"}, {**forged[3], "lifecycleEvent": "missed"}]
        r = await api.post("/webhooks/graph/lifecycle", json={"value": lifecycle})
        assert r.status_code == 202, r.text
        assert dropped["client_state_mismatch"] == 4
        assert dropped["unknown_subscription"] == 3
        assert await signals_received(stack, connection_id) == before
        secrets_in_replies = [genuine_state, "not-the-client-state"]
        assert not any(s in r.text for s in secrets_in_replies)

        # The control: the same request with the real clientState is signalled, so the count can move.
        r = await api.post(
            "/webhooks/graph", json={"value": [notification(subscription_id, genuine_state, "AAMkReal=")]}
        )
        assert r.status_code == 202, r.text

        async def one_more_signal() -> bool:
            return await signals_received(stack, connection_id) == before + 1

        await eventually(one_more_signal, timeout=10, what="the genuine notification's signal")
        assert sum(dropped.values()) == 7
    # Dropped and logged, but the secrets that came with them are not in the service's log.
    logged = stack.log_path.read_text()
    assert "dropped" in logged
    assert genuine_state not in logged and other_state not in logged


async def test_validation_handshake_and_body_checks_on_both_urls(stack: Stack) -> None:
    token = "Validation: Testing client application reachability <script>alert(1)</script> +/=&%"
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30.0) as api:
        for path in WEBHOOK_PATHS:
            r = await api.post(f"{path}?validationToken={quote(token, safe='')}")
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"].startswith("text/plain"), path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.text == token, path

            r = await api.post(f"{path}?validationToken={'a' * 5000}")
            assert r.status_code == 400, (path, r.status_code)
            assert "aaaa" not in r.text

            big = b'{"value": [' + b" " * 1_100_000 + b"]}"
            r = await api.post(path, content=big, headers={"content-type": "application/json"})
            assert r.status_code == 413, (path, r.status_code)

            async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to refuse up front
                yield b'{"value": ['
                for _ in range(20):
                    yield b" " * 100_000
                yield b"]}"

            r = await api.post(path, content=chunked(), headers={"content-type": "application/json"})
            assert r.status_code == 413, (path, r.status_code)

            marker = "MARKER-" + uuid.uuid4().hex
            for malformed in (
                f'{{"value": "{marker}"',  # not JSON
                f'{{"value": [{{"clientState": "{marker}"}}]}}',  # no subscriptionId
                f'["{marker}"]',  # not an object
            ):
                r = await api.post(path, content=malformed, headers={"content-type": "application/json"})
                assert r.status_code == 400, (path, malformed, r.status_code, r.text)
                assert marker not in r.text, (path, r.text)
                assert r.headers["content-type"].startswith("application/json"), path


def private_database(stack: Stack, directory: Path) -> str:
    """A copy of the stack's database for a replica, with an empty outbox of its own: the stack's API
    forwards the outbox of the shared database, so a row there would not wait for the replica."""
    source = make_url(stack.settings.effective_database_url).database
    assert source, stack.settings.effective_database_url
    target = directory / f"replica-{uuid.uuid4().hex[:8]}.db"
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        dst.execute("DELETE FROM webhook_outbox")
        dst.commit()
    return f"sqlite:///{target}"


def outbox_rows(database_url: str) -> list[OutboxRow]:
    engine = create_db_engine(database_url)
    try:
        with session_scope(engine) as session:
            return list(session.scalars(select(OutboxRow)))
    finally:
        engine.dispose()


async def genuine_notification(stack: Stack) -> tuple[str, dict[str, Any]]:
    """A connected mailbox and a notification for it that passes every check: (connection id, body)."""
    email, _token, connection_id, _board = await connected_with_recipe(stack)
    subscription_id, genuine_state = await mailbox_subscription(stack, email)
    return connection_id, notification(subscription_id, genuine_state, "AAMkWaiting=")


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
async def test_temporal_unreachable_notifications_are_kept_and_forwarded_when_it_is_back(
    stack: Stack, tmp_path: Path, path: str
) -> None:
    connection_id, genuine = await genuine_notification(stack)
    if path.endswith("/lifecycle"):
        genuine = {**genuine, "lifecycleEvent": "missed"}
    database_url = private_database(stack, tmp_path)
    before = await signals_received(stack, connection_id)
    # A replica whose Temporal is not there (a port nobody listens on; its Vault and database are fine).
    down = replica_settings(stack, temporal_address=f"127.0.0.1:{free_port()}", database_url=database_url)
    async with running_api(down) as (app, url), httpx.AsyncClient(base_url=url, timeout=60.0) as api:
        r = await api.post(path, json={"value": [genuine]})
        assert r.status_code == 202, r.text  # stored: Graph must not deliver it again
        assert genuine["clientState"] not in r.text
        forwarder = app.state.webhook_forwarder

        async def tried_and_kept() -> bool:
            return bool(forwarder.totals["kept"])

        await eventually(tried_and_kept, timeout=15, what="the replica's forwarder to fail and keep the row")
    [row] = outbox_rows(database_url)
    assert str(row.connection_id) == connection_id and row.attempts >= 1
    stored = (row.message_ids, row.lifecycle_event)
    assert stored == (('["AAMkWaiting="]', None) if path == "/webhooks/graph" else (None, "missed"))
    assert await signals_received(stack, connection_id) == before

    # Temporal is back (a process that reaches it, on the same database): the row is signalled once.
    async with running_api(replica_settings(stack, database_url=database_url)):

        async def forwarded() -> bool:
            return (
                not outbox_rows(database_url) and await signals_received(stack, connection_id) == before + 1
            )

        await eventually(forwarded, timeout=30, what="the kept notification to reach the workflow")


@pytest.mark.parametrize("failure", ["locked", "no outbox table"])
async def test_database_unable_to_store_answers_503_never_500(
    stack: Stack, tmp_path: Path, failure: str
) -> None:
    _connection_id, genuine = await genuine_notification(stack)
    database_url = private_database(stack, tmp_path)
    path = make_url(database_url).database
    assert path
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        if failure == "locked":
            # Another writer holds the database past the 5 s busy timeout.
            blocker.execute("BEGIN IMMEDIATE")
        else:
            blocker.execute("DROP TABLE webhook_outbox")
        settings = replica_settings(stack, database_url=database_url)
        async with running_api(settings) as (_app, url), httpx.AsyncClient(base_url=url, timeout=60.0) as api:
            for p, body in (
                ("/webhooks/graph", genuine),
                ("/webhooks/graph/lifecycle", {**genuine, "lifecycleEvent": "missed"}),
            ):
                r = await api.post(p, json={"value": [body]})
                assert r.status_code == 503, (p, r.status_code, r.text)  # 5xx: Graph delivers it again
                assert genuine["clientState"] not in r.text
            if failure == "locked":
                # The lock is gone: Graph's retry is stored and acknowledged.
                blocker.execute("ROLLBACK")
                r = await api.post("/webhooks/graph", json={"value": [genuine]})
                assert r.status_code == 202, r.text
    finally:
        blocker.close()
    logged = stack.log_path.read_text()
    assert "could not store 1 notification(s) in the outbox (OperationalError)" in logged
    assert genuine["clientState"] not in logged
