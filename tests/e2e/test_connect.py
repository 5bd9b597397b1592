"""Connecting a mailbox end to end: unmodified MSAL against the emulator, tokens in OpenBao, the
connection workflow on a real Temporal dev server, the API's pages and webhooks over real HTTP.

The last test scans everything this module produced (every run of every workflow history with every
payload decoded, the logs, the database) for every token the emulator issued, the client secret, the
clientStates and the Vault credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowHistory

from db.connections import Connection, OAuthFlow
from payloads.connection import ConnectionStatus, ConnectionView
from tests.e2e.conftest import CLIENT_SECRET, Stack
from tests.e2e.helpers import (
    CLIENT_STATES,
    connect,
    connected_mailbox,
    eventually,
    new_mailbox,
    pre_answer_consent,
    remember_client_states,
    revoke,
    start_connect,
    vault_paths,
    wait_status,
)
from tests.replay.record import HISTORIES, RECORD, write_histories
from tests.support import leak_scan
from vault.client import VaultClient


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
        handle = stack.env.client.get_workflow_handle(
            f"connection/{connection_id}", result_type=ConnectionView
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
    email, token, connection_id = await connected_mailbox(stack)
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


# ----- bad callbacks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What a callback could leave behind: connection rows and Vault paths under connections/."""

    connections: frozenset[str]
    vault_paths: frozenset[str]


def connection_ids(stack: Stack) -> set[str]:
    with stack.engine.connect() as db:
        return {str(i) for i in db.execute(select(Connection.id)).scalars()}


def vault_connection_paths(stack: Stack) -> set[str]:
    """Every secret under the KV mount's connections/, listed with the root token."""
    root = hvac.Client(url=stack.openbao.addr, token=stack.openbao.root_token)
    try:
        listed = root.secrets.kv.v2.list_secrets(
            path="connections", mount_point=stack.settings.vault_kv_mount
        )
    except hvac.exceptions.InvalidPath:
        return set()
    paths: set[str] = set()
    for key in listed["data"]["keys"]:
        paths |= {f"connections/{key}{leaf}" for leaf in vault_paths(stack, key.rstrip("/"))}
        paths.add(f"connections/{key}")  # a folder left with no secrets in it still counts
    return paths


async def stored(stack: Stack) -> Stored:
    """What the database and Vault hold (read in a thread: the API shares this event loop)."""

    def read() -> Stored:
        return Stored(frozenset(connection_ids(stack)), frozenset(vault_connection_paths(stack)))

    return await asyncio.to_thread(read)


async def assert_refused(
    stack: Stack, response: httpx.Response, status: int, says: str, before: Stored
) -> None:
    """A clear page with the expected 4xx, and nothing new stored anywhere."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert "Mailbox not connected" in response.text and says in response.text, response.text
    assert "Traceback" not in response.text
    after = await stored(stack)
    assert not after.connections - before.connections, "a refused callback stored a connection"
    assert not after.vault_paths - before.vault_paths, "a refused callback stored something in Vault"


async def consent_redirect(stack: Stack, browser: httpx.AsyncClient, email: str) -> httpx.URL:
    """Starts connecting and answers the consent: the callback URL Microsoft sends the browser to."""
    await pre_answer_consent(stack, email)
    start = await start_connect(stack, browser, "incoming", follow_redirects=False)
    assert start.status_code == 303, start.text
    consent = await browser.get(start.headers["location"], follow_redirects=False)
    callback = httpx.URL(consent.headers["location"])
    assert callback.params.get("code") and callback.params.get("state"), "the consent gave no code"
    return callback


async def visible_connection_workflows_since(stack: Stack, since: datetime) -> set[str]:
    """ConnectionWorkflow ids started since `since`, once visibility has caught up with a workflow
    started just now (visibility lags; without the wait an empty answer would prove nothing)."""
    client = stack.env.client
    sentinel = f"visibility-sentinel/{uuid.uuid4()}"
    # No worker polls this queue: the workflow only has to be started, and is terminated below.
    handle = await client.start_workflow(
        "VisibilitySentinel", id=sentinel, task_queue=f"no-worker-{uuid.uuid4().hex[:8]}"
    )
    try:

        async def sentinel_visible() -> list[Any]:
            return [w async for w in client.list_workflows(f"WorkflowId = '{sentinel}'")]

        await eventually(sentinel_visible, what="the sentinel workflow in visibility")
        query = f"WorkflowType = 'ConnectionWorkflow' AND StartTime >= '{since.isoformat()}'"
        return {w.id async for w in client.list_workflows(query)}
    finally:
        await handle.terminate("visibility sentinel")


@contextlib.contextmanager
def access_log(stack: Stack) -> Iterator[Path]:
    """uvicorn's access log (every request line, query string included) into a file the leak scan
    reads. The stack's API logs at WARNING, and uvicorn.access does not propagate to the root logger,
    so without this no callback URL would ever reach a log the scan sees."""
    path = stack.settings.data_dir / "access.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("uvicorn.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield path
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
        handler.close()


async def test_bad_callbacks_store_nothing(stack: Stack) -> None:
    with access_log(stack) as logged:
        connection_id, token = await refused_callbacks(stack)
    # The callbacks were logged (code and state blanked): the leak scan reads this file.
    lines = logged.read_text()
    assert "/oauth/callback?" in lines and "code=[redacted]" in lines, lines[-2000:]
    await wait_status(stack, token, connection_id, "active")
    await remember_client_states(stack)


async def refused_callbacks(stack: Stack) -> tuple[str, str]:
    """Each bad callback, then the one good one; returns its connection id and the user's API token."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    existing = connection_ids(stack)
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    intruder, _ = await stack.signed_in_user(f"intruder-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser), contextlib.aclosing(intruder):
        # Declined consent: Microsoft redirects back with error=access_denied.
        before = await stored(stack)
        await pre_answer_consent(stack, email, deny=True)
        declined = await start_connect(stack, browser, "incoming")
        assert declined.url.path == "/oauth/callback" and declined.url.params["error"] == "access_denied"
        await assert_refused(stack, declined, 400, "declined", before)

        # A callback without state, and one whose state this service never issued (CSRF), while a
        # real sign-in with a real code is pending.
        callback = await consent_redirect(stack, browser, email)
        before = await stored(stack)
        missing = await browser.get(callback.copy_remove_param("state"))
        await assert_refused(stack, missing, 400, "has no state", before)
        forged = await browser.get(callback.copy_set_param("state", uuid.uuid4().hex))
        await assert_refused(stack, forged, 400, "never started here", before)

        # A flow older than its life (10 minutes): its row is aged in the database.
        callback = await consent_redirect(stack, browser, email)
        state_hash = hashlib.sha256(callback.params["state"].encode()).hexdigest()
        with stack.engine.begin() as db:
            aged = db.execute(
                update(OAuthFlow)
                .where(OAuthFlow.state_hash == state_hash)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            assert aged.rowcount == 1, "the flow row was not found by the hash of its state"
        before = await stored(stack)
        expired = await browser.get(callback)
        await assert_refused(stack, expired, 400, "expired", before)

        # Another signed-in user brings back the callback of a flow this user started.
        callback = await consent_redirect(stack, browser, email)
        before = await stored(stack)
        stolen = await intruder.get(callback, follow_redirects=False)
        await assert_refused(stack, stolen, 403, "another user", before)
        # The intruder did not spoil it: the user who started the sign-in still completes it.
        own = await browser.get(callback, follow_redirects=False)
        assert own.status_code == 303, own.text
        owned_id = own.headers["location"].rsplit("/", 1)[1]
        await wait_status(stack, token, owned_id, "active")

        # A good callback, then the same callback replayed.
        callback = await consent_redirect(stack, browser, email)
        first = await browser.get(callback, follow_redirects=False)
        assert first.status_code == 303, first.text
        connection_id = first.headers["location"].rsplit("/", 1)[1]
        assert connection_ids(stack) - existing == {connection_id}
        # Its workflow stores the subscription's clientState in Vault: let it finish first.
        await wait_status(stack, token, connection_id, "active")
        before = await stored(stack)
        assert {f"connections/{connection_id}/{leaf}" for leaf in ("tokens", "subscription")} <= (
            before.vault_paths
        ), "the Vault listing does not see a connection's paths"
        replayed = await browser.get(callback, follow_redirects=False)
        await assert_refused(stack, replayed, 400, "already used", before)

        # A code redeemed once, brought back with a fresh sign-in's state: Microsoft refuses it.
        fresh = await consent_redirect(stack, browser, email)
        reused = await browser.get(fresh.copy_set_param("code", callback.params["code"]))
        await assert_refused(stack, reused, 400, "already used", before)

        # Bad input to the connect endpoint itself.
        bad = await start_connect(stack, browser, "calendar")
        await assert_refused(stack, bad, 400, "incoming, outgoing", before)

    # The one good callback started the one workflow; none of the refused ones started any.
    started = await visible_connection_workflows_since(stack, since)
    assert started - {f"connection/{c}" for c in existing} == {f"connection/{connection_id}"}
    return connection_id, token


# ----- the leak scan -----------------------------------------------------------------------------------


def _linked_runs(history: WorkflowHistory) -> set[str]:
    """The runs before and after this one (continue-as-new), which visibility may not list yet."""
    linked: set[str] = set()
    first = history.events[0].workflow_execution_started_event_attributes
    linked |= {first.continued_execution_run_id, first.first_execution_run_id}
    last = history.events[-1]
    if last.HasField("workflow_execution_continued_as_new_event_attributes"):
        linked.add(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)
    return linked - {""}


async def every_history(stack: Stack, query: str = "") -> dict[tuple[str, str], WorkflowHistory]:
    """Every run of every workflow the visibility query finds (all of the namespace by default), open
    or closed, with the runs before and after each, keyed by (workflow id, run id)."""
    client = stack.env.client
    pending = [(w.id, w.run_id) async for w in client.list_workflows(query)]
    histories: dict[tuple[str, str], WorkflowHistory] = {}
    while pending:
        key = pending.pop()
        if key in histories:
            continue
        histories[key] = await client.get_workflow_handle(key[0], run_id=key[1]).fetch_history()
        pending += [(key[0], run) for run in _linked_runs(histories[key])]
    return histories


def service_vault_tokens() -> list[str]:
    """The Vault tokens the API and the worker of the stack hold right now (their AppRole logins).

    They run in this process but the stack object does not hold them, so they are found as objects;
    tokens replaced earlier by a renewal or a new login are not seen."""
    clients = [o for o in gc.get_objects() if isinstance(o, VaultClient)]
    return [c._hvac.token for c in clients if c._hvac.token]


async def the_secrets(stack: Stack) -> leak_scan.Secrets:
    # clientStates of subscriptions deleted before any snapshot are unknown here (the emulator forgets
    # them); the shape scan of the service's histories below looks for any clientState-shaped value.
    await remember_client_states(stack)
    async with stack.emulator_control() as control:
        issued = (await control.get("/_emulator/issued-tokens")).json()
    assert len(issued["access_tokens"]) > 5 and issued["refresh_tokens"], "the tests above issued tokens"
    assert CLIENT_STATES, "the tests above should have created subscriptions"
    found = leak_scan.Secrets()
    found.add_all("access token", issued["access_tokens"])
    found.add_all("refresh token", issued["refresh_tokens"])
    found.add_all("auth code", issued["auth_codes"])
    found.add("the client secret", CLIENT_SECRET)
    found.add_all("clientState", sorted(CLIENT_STATES))
    found.add("the Vault AppRole role_id", stack.openbao.role_id)
    found.add("the Vault AppRole secret_id", stack.openbao.secret_id)
    found.add("the Vault root token", stack.openbao.root_token)
    vault_tokens = await asyncio.to_thread(service_vault_tokens)  # a walk over every object: seconds
    assert vault_tokens, "the service logged in to Vault"
    found.add_all("a Vault token of the service", vault_tokens)
    return found


async def test_nothing_secret_leaks_anywhere(stack: Stack) -> None:
    """Runs last in this module: scans what the tests above left behind."""
    secrets = await the_secrets(stack)
    rows = connection_ids(stack)
    with stack.engine.connect() as db:
        mailbox = db.execute(select(Connection.mailbox).limit(1)).scalar_one()

    # Every connection's workflow must be among the histories scanned.
    async def all_listed() -> dict[tuple[str, str], WorkflowHistory] | None:
        histories = await every_history(stack)
        ids = {workflow_id for workflow_id, _ in histories}
        return histories if {f"connection/{c}" for c in rows} <= ids else None

    histories = await eventually(all_listed, what="every connection's workflow in visibility")
    history_blobs: list[leak_scan.Blob] = []
    service_blobs: list[leak_scan.Blob] = []
    for (workflow_id, run_id), history in sorted(histories.items()):
        blobs = await leak_scan.history_blobs(history, f"history of {workflow_id} run {run_id}")
        history_blobs += blobs
        started = history.events[0].workflow_execution_started_event_attributes
        if started.task_queue.name == stack.settings.temporal_task_queue:
            service_blobs += blobs

    recorded: list[leak_scan.Blob] = []
    for path in leak_scan.recorded_histories(HISTORIES):
        text = leak_scan.read_history_text(path)
        recorded += await leak_scan.history_blobs(text, f"recorded history {path.name}")

    # Seconds of searching: off the event loop, which the API and the worker share with this test.
    leaks = await asyncio.to_thread(
        scan_for_leaks, stack, secrets, mailbox, history_blobs, service_blobs, recorded
    )
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:40])


def scan_for_leaks(
    stack: Stack,
    secrets: leak_scan.Secrets,
    mailbox: str,
    history_blobs: list[leak_scan.Blob],
    service_blobs: list[leak_scan.Blob],
    recorded: list[leak_scan.Blob],
) -> list[str]:
    # The scan reads what it should: a mailbox is only in payloads (base64 in the history's JSON).
    canary = leak_scan.Secrets()
    canary.add("a connected mailbox", mailbox)
    assert canary.find(history_blobs), "the scan did not decode the histories' payloads"
    assert canary.find(leak_scan.database_blobs(stack.engine)), "the scan did not read the database"

    logs = sorted({stack.log_path, stack.openbao.log_path, *stack.settings.data_dir.glob("*.log")})
    log_blobs = leak_scan.file_blobs(logs)
    assert "connection" in stack.log_path.read_text(errors="replace").lower()
    database_files = [p for p in stack.settings.data_dir.glob("app.db*") if p.is_file()]
    assert database_files

    leaks: list[str] = []
    for place, blobs in (
        ("workflow histories", history_blobs),
        ("recorded histories", recorded),
        ("logs", log_blobs),
        ("database rows", leak_scan.database_blobs(stack.engine)),
        ("database files", leak_scan.file_blobs(database_files)),
    ):
        leaks += [f"{place}: {finding}" for finding in secrets.find(blobs)]
    # Anything shaped like a token in the service's own histories (JWT, refresh token, clientState...).
    leaks += [f"service histories: {finding}" for finding in leak_scan.secret_shapes(service_blobs)]
    return leaks
