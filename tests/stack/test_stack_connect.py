"""Issue 4's "Done when" on the stack `make run` starts (`python -m stack`: several uvicorn workers, the
worker in its own process, production logging): connect the demo mailbox through the emulator's
consent, see it active in the API and findable in Temporal by its search attributes, revoke it in the
emulator and see `revoked` with the reason, reconnect, restart the whole stack and find it still
active with its workflow running, then disconnect and find its Vault paths gone."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from stack.health import trust
from tests.stack.stack_process import URLS_DONE, StackPorts, StackProcess

MAILBOX = "ada@contoso.test"  # the demo mailbox `make run` creates in the emulator
START_TIMEOUT = 150.0


class Demo:
    """A person at the keyboard of a running stack: a signed-in browser, the API, the emulator."""

    def __init__(self, data_dir: Path, ports: StackPorts) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.api = f"http://127.0.0.1:{ports.api}"
        self.emulator = f"https://127.0.0.1:{ports.emulator}"
        self.ca = trust(data_dir / "emulator" / "ca.pem")
        self.token = (data_dir / "admin-token").read_text().strip()
        self.browser = httpx.Client(verify=self.ca, follow_redirects=True, timeout=30)
        assert self.browser.post(f"{self.api}/signin", data={"token": self.token}).status_code == 200

    def consent_next(self) -> None:
        r = httpx.post(f"{self.emulator}/_emulator/consent", json={"email": MAILBOX}, verify=self.ca)
        assert r.status_code == 201, r.text

    def connect(self, scopes: str) -> httpx.Response:
        """Submits the connections page's Connect form: a POST carrying the page's CSRF token."""
        page = self.browser.get(f"{self.api}/connections")
        token = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page.text)
        assert token, page.text
        data = {"scopes": scopes, "csrf_token": token.group(1)}
        return self.browser.post(f"{self.api}/connect/outlook", data=data)

    def call(self, method: str, path: str) -> httpx.Response:
        return httpx.request(method, self.api + path, headers={"Authorization": f"Bearer {self.token}"})

    def wait_status(self, connection_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.call("GET", f"/api/connections/{connection_id}").json()
            if body.get("status") == status:
                return body
            time.sleep(0.5)
        raise AssertionError(f"not {status} within {timeout} s: {body}")

    def vault_paths(self, connection_id: str) -> list[str]:
        root = json.loads((self.data_dir / "openbao" / "init.json").read_text())["root_token"]
        r = httpx.request(
            "LIST",
            f"http://127.0.0.1:{self.ports.openbao}/v1/outlook-kv/metadata/connections/{connection_id}",
            headers={"X-Vault-Token": root},
        )
        return list(r.json()["data"]["keys"]) if r.status_code == 200 else []

    def temporal(self, query: str) -> list[tuple[str, WorkflowExecutionStatus | None]]:
        async def listed() -> list[tuple[str, WorkflowExecutionStatus | None]]:
            client = await Client.connect(f"127.0.0.1:{self.ports.temporal}")
            return [(w.id, w.status) async for w in client.list_workflows(query)]

        deadline = time.monotonic() + 30
        while True:
            found = asyncio.run(listed())
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@pytest.mark.timeout(420)
def test_connect_revoke_reconnect_restart_disconnect_on_the_real_stack(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = StackPorts()
    stack = StackProcess(data_dir, ports)
    try:
        stack.wait_for(URLS_DONE, START_TIMEOUT)
        demo = Demo(data_dir, ports)
        demo.consent_next()
        page = demo.connect("incoming,outgoing")
        assert page.status_code == 200 and page.url.path.startswith("/connections/"), page.url
        connection_id = page.url.path.rsplit("/", 1)[1]
        active = demo.wait_status(connection_id, "active")
        assert active["mailbox"] == MAILBOX and active["subscription_expires_at"]
        assert sorted(demo.vault_paths(connection_id)) == ["subscription", "tokens"]
        query = f"ConnectionId = '{connection_id}' AND Mailbox = '{MAILBOX}' AND ConnectionStatus = 'active'"
        assert demo.temporal(query) == [(f"connection/{connection_id}", WorkflowExecutionStatus.RUNNING)]

        revoke = f"{demo.emulator}/_emulator/users/{MAILBOX}/revoke"
        r = httpx.post(revoke, json={"reason": "admin_reset"}, verify=demo.ca)
        assert r.status_code == 200, r.text
        revoked = demo.wait_status(connection_id, "revoked", timeout=60)
        assert "password" in revoked["status_reason"]

        url = demo.call("POST", f"/api/connections/{connection_id}/reconnect").json()["url"]
        demo.consent_next()
        assert demo.browser.get(url).url.path == f"/connections/{connection_id}"
        demo.wait_status(connection_id, "active")
        assert stack.stop(signal.SIGINT) == 0, stack.console()
    finally:
        stack.kill()

    # Everything is kept across a restart: the connection, its tokens and its running workflow.
    again = StackProcess(data_dir, ports)
    try:
        again.wait_for(URLS_DONE, START_TIMEOUT)
        demo = Demo(data_dir, ports)
        demo.wait_status(connection_id, "active")
        assert demo.temporal(f"WorkflowId = 'connection/{connection_id}' AND ExecutionStatus = 'Running'")

        assert demo.call("DELETE", f"/api/connections/{connection_id}").status_code == 202
        demo.wait_status(connection_id, "disconnected")
        assert demo.vault_paths(connection_id) == []
        assert again.stop(signal.SIGINT) == 0, again.console()
    finally:
        again.kill()
