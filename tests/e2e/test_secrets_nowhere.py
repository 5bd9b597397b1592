"""A connection's tokens live in Vault and nowhere else, are gone after disconnect, are never used after
a revocation was noticed, and every read of them is in the audit log.

One mailbox, end to end on the whole stack: connect, a message made into an item, the API asked for
what it shows, the grant revoked (then: no refresh with the connection's refresh tokens, no Graph
call), reconnected, disconnected. Then the tokens the emulator issued for it (and every other token it
issued) are searched in every form (plain, base64 at every alignment, URL-quoted, JSON-escaped;
tests/support/leak_scan.py) in: every row and file of the app database, every file under the data
directory (OpenBao's storage lives elsewhere), the logs, every run of the connection's and its
messages' Temporal histories decoded through the codec, and every answer the API gave this test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import hvac
import hvac.exceptions
from pydantic import SecretStr
from temporalio.client import WorkflowHistory

from tests.e2e.conftest import Stack
from tests.e2e.helpers import connect, eventually, new_mailbox, pre_answer_consent, revoke, vault_paths
from tests.e2e.test_connect import every_history
from tests.recipes.support import SUPPORT_BOARD, recipe_body
from tests.support import leak_scan
from vault.client import VaultClient
from vault.models import StoredTokens
from vault.token_store import TokenStore


class Answers:
    """Every answer the API gave this test (pages and JSON), kept to be scanned."""

    def __init__(self, api_url: str) -> None:
        self._api_url = api_url
        self.blobs: list[leak_scan.Blob] = []

    async def hook(self, response: httpx.Response) -> None:
        if not str(response.request.url).startswith(self._api_url):
            return  # the emulator's pages: Microsoft's, not ours
        await response.aread()
        where = f"API answer {len(self.blobs)}: {response.request.method} {response.request.url.path}"
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.blobs.append(leak_scan.Blob(where, headers.encode() + b"\n\n" + response.content))


async def stored_tokens(stack: Stack, connection_id: str) -> StoredTokens:
    """What Vault holds for the connection now, read with the service's AppRole (no audit hook: the
    test's own read is not the service's)."""
    vault = VaultClient(stack.openbao.addr, stack.openbao.role_id, SecretStr(stack.openbao.secret_id))
    try:
        return await TokenStore(vault).load(connection_id)
    finally:
        vault.close()


async def refresh_grants(stack: Stack, since: float) -> list[dict[str, Any]]:
    async with stack.emulator_control() as control:
        r = await control.get("/_emulator/token-requests", params={"since": str(since)})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found


async def graph_calls(stack: Stack, mailbox: str, since: float) -> list[dict[str, Any]]:
    async with stack.emulator_control() as control:
        r = await control.get("/_emulator/requests", params={"mailbox": mailbox, "since": str(since)})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def connection_histories(stack: Stack, connection_id: str) -> dict[tuple[str, str], WorkflowHistory]:
    """Every run of every workflow of the connection (its own, its messages'), open or closed."""
    return await every_history(stack, f'ConnectionId = "{connection_id}"')


async def test_tokens_are_in_vault_only_and_unused_after_revocation(stack: Stack) -> None:
    answers = Answers(stack.api_url)
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    browser.event_hooks["response"].append(answers.hook)
    api = httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        event_hooks={"response": [answers.hook]},
    )
    async with contextlib.aclosing(browser), contextlib.aclosing(api):

        async def status_is(wanted: str) -> dict[str, Any] | None:
            body: dict[str, Any] = (await api.get(f"/api/connections/{connection_id}")).json()
            return body if body["status"] == wanted else None

        # Connect, and a message made into an item.
        connection_id = await connect(stack, browser, email)
        await eventually(lambda: status_is("active"), what="active")
        board = await api.post("/api/boards", json=SUPPORT_BOARD)
        assert board.status_code == 201, board.text
        board_id = board.json()["id"]
        recipe = await api.post("/api/recipes", json=recipe_body(connection_id, board_id))
        assert recipe.status_code == 201, recipe.text
        async with stack.emulator_control() as control:
            r = await control.post(
                f"/_emulator/users/{email}/messages",
                json={
                    "from": {"name": "Grace", "address": "grace@customer.example"},
                    "subject": "Need help with the secrets test",
                    "body": "Please check the order",
                },
            )
            assert r.status_code == 201, r.text

        async def item_made() -> list[Any]:
            made: list[Any] = (await api.get(f"/api/boards/{board_id}/items")).json()["items"]
            return made

        await eventually(item_made, what="the item")
        # What the API shows of it, a read of the mailbox through the API included.
        for path in ("/api/connections", f"/api/connections/{connection_id}/activity", "/api/me"):
            assert (await api.get(path)).status_code == 200
        folders = await api.get(f"/api/connections/{connection_id}/folders")
        assert folders.status_code == 200, folders.text
        first_tokens = await stored_tokens(stack, connection_id)

        # The grant revoked: noticed, then neither the refresh token nor the mailbox is used again.
        await revoke(stack, email, "consent_revoked")
        await eventually(lambda: status_is("revoked"), what="revoked")
        noticed_entries = (await api.get("/api/audit", params={"connection_id": connection_id})).json()[
            "data"
        ]
        (noticed,) = [e for e in noticed_entries if e["kind"] == "revoked"]
        noticed_at = httpx_time(noticed["at"])
        # The API refuses to read the mailbox now, before any call (409).
        assert (await api.get(f"/api/connections/{connection_id}/folders")).status_code == 409
        # The workflow deletes the subscription (Graph may still allow it with the access token) right
        # after recording the status: give it time to do whatever it would do.
        await asyncio.sleep(3)
        grants = [g for g in await refresh_grants(stack, 0) if g["mailbox"] == email]
        # The log does see this connection's refreshes: the one that found the grant dead, with the
        # refresh token Vault held, came before the revocation was noticed...
        old_refresh = sha256(first_tokens.refresh_token.get_secret_value())
        assert any(
            g["refresh_token_sha256"] == old_refresh and g["status"] == 400 and g["time"] <= noticed_at
            for g in grants
        ), grants
        # ...and none after.
        after = [g for g in grants if g["time"] > noticed_at]
        assert after == [], f"refresh grants after the revocation was noticed: {after}"
        # Nor was the mailbox called with the access token after the subscription delete.
        calls = await graph_calls(stack, email, noticed_at)
        assert [(c["method"], c["path"].split("/")[-2]) for c in calls] in (
            [],
            [("DELETE", "subscriptions")],
        ), calls

        # Reconnected: new tokens; the revoked refresh token is never presented again.
        reconnect = await api.post(f"/api/connections/{connection_id}/reconnect")
        assert reconnect.status_code == 200, reconnect.text
        await pre_answer_consent(stack, email)
        back = await browser.get(reconnect.json()["url"])
        assert back.status_code == 200, back.text
        await eventually(lambda: status_is("active"), what="active again")
        second_tokens = await stored_tokens(stack, connection_id)
        assert second_tokens.refresh_token.get_secret_value() != first_tokens.refresh_token.get_secret_value()

        # Disconnected: nothing is left in Vault.
        assert (await api.delete(f"/api/connections/{connection_id}")).status_code == 202
        await eventually(lambda: status_is("disconnected"), what="disconnected")
        assert vault_paths(stack, connection_id) == []
        root = hvac.Client(url=stack.openbao.addr, token=stack.openbao.root_token)
        for leaf in ("tokens", "subscription"):
            try:
                root.secrets.kv.v2.read_secret_metadata(
                    path=f"connections/{connection_id}/{leaf}", mount_point=stack.settings.vault_kv_mount
                )
                raise AssertionError(f"{leaf} of the connection still has metadata in Vault")
            except hvac.exceptions.InvalidPath:
                pass

        presented = [
            g for g in await refresh_grants(stack, noticed_at) if g["refresh_token_sha256"] == old_refresh
        ]
        assert presented == [], "the revoked refresh token was presented again"

        # The audit log tells the story, reads of the tokens by workflow run and by the API's user.
        audit = (await api.get("/api/audit", params={"connection_id": connection_id, "limit": 500})).json()[
            "data"
        ]
        kinds = [e["kind"] for e in reversed(audit)]
        for kind in ("connect", "revoked", "reconnect", "disconnect_requested", "disconnected"):
            assert kinds.count(kind) == 1, (kind, kinds)
        reads = [e for e in audit if e["kind"] == "token_read"]
        assert any(
            e["workflow_id"] == f"connection/{connection_id}"
            and e["run_id"]
            and e["service"].startswith("activity ")
            for e in reads
        ), reads
        # (The message's steps used the access token the worker keeps in memory: no read of Vault.)
        assert any(
            e["actor"] == "user" and e["service"] == f"api GET /api/connections/{connection_id}/folders"
            for e in reads
        ), reads

    await scan_everything(stack, connection_id, email, first_tokens, second_tokens, answers)


def httpx_time(value: str) -> float:
    """An ISO instant from the API as epoch seconds (the emulator's logs are in epoch seconds)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def scan_everything(
    stack: Stack,
    connection_id: str,
    mailbox: str,
    first: StoredTokens,
    second: StoredTokens,
    answers: Answers,
) -> None:
    secrets = leak_scan.Secrets()
    for label, tokens in (("first", first), ("reconnected", second)):
        secrets.add(f"the {label} access token", tokens.access_token.get_secret_value())
        secrets.add(f"the {label} refresh token", tokens.refresh_token.get_secret_value())
    async with stack.emulator_control() as control:
        issued = (await control.get("/_emulator/issued-tokens")).json()
    assert first.refresh_token.get_secret_value() in issued["refresh_tokens"]
    secrets.add_all("an access token the emulator issued", issued["access_tokens"])
    secrets.add_all("a refresh token the emulator issued", issued["refresh_tokens"])

    async def every_run() -> dict[tuple[str, str], WorkflowHistory] | None:
        found = await connection_histories(stack, connection_id)
        ids = {workflow_id for workflow_id, _ in found}
        has_message = any(i.startswith(f"message/{connection_id}/") for i in ids)
        return found if f"connection/{connection_id}" in ids and has_message else None

    histories = await eventually(every_run, what="the connection's and its message's workflows in visibility")
    history_blobs: list[leak_scan.Blob] = []
    for (workflow_id, run_id), history in sorted(histories.items()):
        history_blobs += await leak_scan.history_blobs(history, f"history of {workflow_id} run {run_id}")

    def scan() -> list[str]:
        canary = leak_scan.Secrets()
        canary.add("the connected mailbox", mailbox)
        assert canary.find(history_blobs), "the scan did not decode the histories' payloads"
        assert canary.find(leak_scan.database_blobs(stack.engine)), "the scan did not read the database"
        assert canary.find(answers.blobs), "the scan did not see the API's answers"

        data_dir = stack.settings.data_dir
        openbao_storage = stack.openbao.layout.data_dir.resolve()
        files = [
            p for p in data_dir.rglob("*") if p.is_file() and not p.resolve().is_relative_to(openbao_storage)
        ]
        assert any(p.name == "app.db" for p in files) and stack.log_path in files
        logs = sorted({stack.log_path, stack.openbao.log_path, *data_dir.glob("*.log")})
        leaks: list[str] = []
        for place, blobs in (
            ("database rows", leak_scan.database_blobs(stack.engine)),
            ("files under the data dir", leak_scan.file_blobs(files)),
            ("logs", leak_scan.file_blobs(logs)),
            ("workflow histories", history_blobs),
            ("API answers", leak_scan.expand(answers.blobs)),
        ):
            leaks += [f"{place}: {finding}" for finding in secrets.find(blobs)]
        leaks += [f"histories: {f}" for f in leak_scan.secret_shapes(history_blobs)]
        leaks += [f"API answers: {f}" for f in leak_scan.secret_shapes(answers.blobs)]
        return leaks

    started = time.monotonic()
    leaks = await asyncio.to_thread(scan)
    assert not leaks, f"{len(leaks)} leak(s) (scan took {time.monotonic() - started:.0f} s):\n" + "\n".join(
        leaks[:40]
    )
