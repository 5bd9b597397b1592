"""Steps the end-to-end tests share: mailboxes and consent in the emulator, connecting through the API
like a browser, polling for the service's asynchronous results."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import hvac

from tests.e2e.conftest import Stack

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


async def connect(stack: Stack, browser: httpx.AsyncClient, email: str, scopes: str = "incoming") -> str:
    await pre_answer_consent(stack, email)
    page = await browser.get(f"{stack.api_url}/connect/outlook", params={"scopes": scopes})
    assert page.status_code == 200, page.text
    assert page.url.path.startswith("/connections/"), page.url
    return page.url.path.rsplit("/", 1)[1]


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
