"""The OAuth sign-in in progress (MSAL's flow: PKCE verifier, nonce, state) is kept in the app database
only as a Vault Transit ciphertext, under a key derived for the user who started it; it lives ten
minutes and only that user's callback can use it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from db.connections import OAuthFlow
from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, new_mailbox, pre_answer_consent, start_connect
from tests.e2e.test_connect import assert_refused, stored
from tests.support import leak_scan
from vault.client import VaultClient
from vault.errors import DecryptionFailed
from vault.token_store import TokenStore


def state_hash(callback: httpx.URL) -> str:
    return hashlib.sha256(callback.params["state"].encode()).hexdigest()


async def started(stack: Stack, browser: httpx.AsyncClient, email: str) -> tuple[httpx.URL, httpx.URL]:
    """Starts connecting and answers the consent: (Microsoft's authorize URL, the callback URL)."""
    await pre_answer_consent(stack, email)
    start = await start_connect(stack, browser, "incoming", follow_redirects=False)
    assert start.status_code == 303, start.text
    consent = await browser.get(start.headers["location"], follow_redirects=False)
    callback = httpx.URL(consent.headers["location"])
    assert callback.params.get("code") and callback.params.get("state"), "the consent gave no code"
    return httpx.URL(start.headers["location"]), callback


async def flow_row(stack: Stack, callback: httpx.URL) -> OAuthFlow:
    def read() -> OAuthFlow:
        with stack.engine.connect() as db:
            row = db.execute(select(OAuthFlow).where(OAuthFlow.state_hash == state_hash(callback))).one()
            return OAuthFlow(**row._mapping)

    return await asyncio.to_thread(read)


@contextlib.asynccontextmanager
async def service_tokens(stack: Stack) -> Any:
    """The token store as the API builds it (the service's AppRole)."""
    vault = VaultClient(stack.openbao.addr, stack.openbao.role_id, SecretStr(stack.openbao.secret_id))
    try:
        yield TokenStore(vault)
    finally:
        vault.close()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def test_the_flow_is_stored_only_encrypted_for_its_user(stack: Stack) -> None:
    email = await new_mailbox(stack)
    browser, _token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    other_browser, _ = await stack.signed_in_user(f"other-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser), contextlib.aclosing(other_browser):
        authorize, callback = await started(stack, browser, email)
        row = await flow_row(stack, callback)

        assert row.flow_json.startswith("vault:v"), "the flow is not a Transit ciphertext"
        assert row.expires_at - datetime.now(UTC) <= timedelta(minutes=10)
        async with service_tokens(stack) as tokens:
            flow = json.loads(await tokens.open_flow(str(row.user_id), row.flow_json))
            # Sealed under the starting user's key: nobody else's context opens it.
            with pytest.raises(DecryptionFailed):
                await tokens.open_flow(str(uuid.uuid4()), row.flow_json)
        # What was sealed is this sign-in's flow: its verifier answers the challenge Microsoft got.
        assert s256(flow["code_verifier"]) == authorize.params["code_challenge"]
        assert flow["state"] == callback.params["state"]

        secrets = leak_scan.Secrets()
        secrets.add("the PKCE verifier", flow["code_verifier"])
        secrets.add("the nonce", flow["nonce"])
        secrets.add("the state", flow["state"])

        def scan() -> list[leak_scan.Finding]:
            files = [p for p in stack.settings.data_dir.glob("app.db*") if p.is_file()]
            return secrets.find(leak_scan.database_blobs(stack.engine) + leak_scan.file_blobs(files))

        found = await asyncio.to_thread(scan)
        assert not found, "\n".join(map(str, found))

        # Still usable by its own user.
        done = await browser.get(callback, follow_redirects=False)
        assert done.status_code == 303, done.text


async def test_a_flow_is_refused_when_expired_or_brought_by_another_user(stack: Stack) -> None:
    email = await new_mailbox(stack)
    browser, _token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    intruder, intruder_token = await stack.signed_in_user(f"intruder-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser), contextlib.aclosing(intruder):
        # Older than ten minutes.
        _, callback = await started(stack, browser, email)

        def age() -> None:
            with stack.engine.begin() as db:
                db.execute(
                    update(OAuthFlow)
                    .where(OAuthFlow.state_hash == state_hash(callback))
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )

        await asyncio.to_thread(age)
        before = await stored(stack)
        await assert_refused(stack, await browser.get(callback), 400, "expired", before)

        # Another signed-in user's browser brings the callback: refused, and the owner's flow kept.
        _, callback = await started(stack, browser, email)
        before = await stored(stack)
        await assert_refused(stack, await intruder.get(callback), 403, "another user", before)

        # The row handed to the intruder in the database itself: their user id on the row does not
        # open a ciphertext sealed for the owner.
        me = await api_call(stack, intruder_token, "GET", "/api/me")
        intruder_id = uuid.UUID(me.json()["id"])
        row = await flow_row(stack, callback)

        def hand_over() -> None:
            with stack.engine.begin() as db:
                db.execute(
                    update(OAuthFlow)
                    .where(OAuthFlow.state_hash == row.state_hash)
                    .values(user_id=intruder_id)
                )

        await asyncio.to_thread(hand_over)
        await assert_refused(stack, await intruder.get(callback), 400, "could not be read back", before)
