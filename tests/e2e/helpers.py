"""Steps the end-to-end tests share: mailboxes and consent in the emulator, connecting through the API
like a browser, polling for the service's asynchronous results."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import hvac
from fastapi import FastAPI
from pydantic import HttpUrl, SecretStr
from temporalio.api.enums.v1 import EventType

from api.main import create_app
from config.settings import Settings
from db.engine import session_scope
from db.sync_state import MailSyncState
from tests.e2e.conftest import Stack
from tests.support.servers import free_port
from tests.support.serving import serving

# The sender of the mail the e2e recipes match (the recipe: *@customer.example, "help").
CUSTOMER = {"name": "Grace", "address": "grace@customer.example"}

CLIENT_STATES: set[str] = set()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60.0, what: str = "") -> Any:
    """Polls `check` until it returns something truthy (the service works asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


async def new_mailbox(stack: Stack) -> str:
    email = f"ada-{uuid.uuid4().hex[:8]}@contoso.test"
    async with stack.emulator_control() as control:
        r = await control.post("/_emulator/users", json={"email": email, "display_name": "Ada Lovelace"})
        assert r.status_code in (200, 201), r.text
    return email


async def pre_answer_consent(stack: Stack, email: str, *, deny: bool = False) -> None:
    async with stack.emulator_control() as control:
        body: dict[str, Any] = {"deny": True} if deny else {"email": email}
        r = await control.post("/_emulator/consent", json=body)
        assert r.status_code == 201, r.text


async def remember_client_states(stack: Stack) -> None:
    async with stack.emulator_control() as control:
        for sub in (await control.get("/_emulator/subscriptions")).json():
            if sub.get("client_state"):
                CLIENT_STATES.add(sub["client_state"])


async def connection_json(stack: Stack, token: str, connection_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        r = await api.get(f"/api/connections/{connection_id}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def wait_status(stack: Stack, token: str, connection_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await connection_json(stack, token, connection_id)
        return body if body["status"] == status else None

    result: dict[str, Any] = await eventually(check, what=f"status {status}")
    return result


CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]{64})">')


async def page_csrf_token(stack: Stack, browser: httpx.AsyncClient) -> str:
    """The session's CSRF token, read from a page as a script would (its <meta name="csrf-token">)."""
    page = await browser.get(f"{stack.api_url}/connections", follow_redirects=False)
    assert page.status_code == 200, page.text
    match = CSRF_META.search(page.text)
    assert match, "the page carries the session's CSRF token"
    return match.group(1)


async def start_connect(
    stack: Stack, browser: httpx.AsyncClient, scopes: str = "incoming", *, follow_redirects: bool = True
) -> httpx.Response:
    """Submits the connections page's Connect form (a POST with the CSRF token), like a browser."""
    data = {"scopes": scopes, "csrf_token": await page_csrf_token(stack, browser)}
    return await browser.post(
        f"{stack.api_url}/connect/outlook", data=data, follow_redirects=follow_redirects
    )


async def connect(stack: Stack, browser: httpx.AsyncClient, email: str, scopes: str = "incoming") -> str:
    await pre_answer_consent(stack, email)
    page = await start_connect(stack, browser, scopes)
    assert page.status_code == 200, page.text
    assert page.url.path.startswith("/connections/"), page.url
    return page.url.path.rsplit("/", 1)[1]


async def connected_mailbox(stack: Stack) -> tuple[str, str, str]:
    """A new mailbox connected (incoming mail) by a new signed-in user and active:
    (mailbox, the user's API token, connection id)."""
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{uuid.uuid4().hex[:6]}@acme.example")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, email)
    await wait_status(stack, token, connection_id, "active")
    return email, token, connection_id


async def revoke(stack: Stack, email: str, reason: str) -> None:
    async with stack.emulator_control() as control:
        r = await control.post(f"/_emulator/users/{email}/revoke", json={"reason": reason})
        assert r.status_code == 200, r.text


def vault_paths(stack: Stack, connection_id: str) -> list[str]:
    root = hvac.Client(url=stack.openbao.addr, token=stack.openbao.root_token)
    try:
        listed = root.secrets.kv.v2.list_secrets(
            path=f"connections/{connection_id}", mount_point=stack.settings.vault_kv_mount
        )
    except hvac.exceptions.InvalidPath:
        return []
    return list(listed["data"]["keys"])


async def api_call(stack: Stack, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30.0) as api:
        return await api.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


# ----- reliability tests (tests/e2e/test_messages_*.py) -------------------------------------------


async def set_faults(stack: Stack, **faults: Any) -> None:
    """Replaces the emulator's faults (they are emulator-wide: clear them when the test ends)."""
    async with stack.emulator_control() as control:
        r = await control.put("/_emulator/faults", json=faults)
        assert r.status_code == 200, r.text


async def clear_faults(stack: Stack) -> None:
    async with stack.emulator_control() as control:
        r = await control.delete("/_emulator/faults")
        assert r.status_code == 200, r.text


async def emulator_list(stack: Stack, path: str, **params: str) -> list[dict[str, Any]]:
    """A list the emulator's control API keeps (its requests log, a user's messages or sent mail)."""
    async with stack.emulator_control() as control:
        r = await control.get(path, params=params)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found


async def emulator_requests(stack: Stack, mailbox: str) -> list[dict[str, Any]]:
    """The emulator's log of Graph calls made for this mailbox."""
    return await emulator_list(stack, "/_emulator/requests", mailbox=mailbox)


async def wait_first_catch_up(stack: Stack, connection_id: str) -> None:
    """Until the connection's inbox has a delta position: its first catch-up is done, and from then on
    only a catch-up finds mail that notifications did not bring."""

    async def first_catch_up_done() -> bool:
        with session_scope(stack.engine) as session:
            state = session.get(MailSyncState, (uuid.UUID(connection_id), "inbox"))
            return state is not None and state.delta_link is not None

    await eventually(first_catch_up_done, what="the connection's first catch-up")


HANDED_OVER = (
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    # Message ids reach the workflow through the `take_notified` update (api/webhook_forwarder.py).
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
)


async def signals_received(stack: Stack, connection_id: str) -> int:
    """How many signals and updates the connection workflow's current run has taken (its history)."""
    handle = stack.env.client.get_workflow_handle(f"connection/{connection_id}")
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.event_type in HANDED_OVER)


@contextlib.asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[tuple[FastAPI, str]]:
    """Another replica of the API (uvicorn in this process, on the port of settings.public_base_url),
    for tests that need its in-memory state or its own task queue; yields (app, base URL)."""
    app = create_app(settings)
    async with serving(app, settings.public_base_url.port or 80, lifespan="on"):
        yield app, settings.public_base


def replica_settings(stack: Stack, **overrides: Any) -> Settings:
    """The stack's settings for another API replica on a free port (same database, Vault, Temporal)."""
    values = {"public_base_url": HttpUrl(f"http://127.0.0.1:{free_port()}"), **overrides}
    return stack.settings.model_copy(update=values)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables a separate process (python worker.py) reads."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value)
        env[name.upper()] = str(value)
    return env
