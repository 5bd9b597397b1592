"""The Vault part of /readyz against an OpenBao of its own: uninitialised, then sealed, then ready."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import hvac
import pytest

from api.readiness import NotReady, ReadinessChecks
from stack.openbao import OpenBaoLayout
from stack.openbao_setup import wait_for_listener
from stack.procgroup import stop_popen
from tests.support.appdb import make_settings
from tests.support.servers import free_port


def vault_checks(tmp_path, addr: str, role_id: str = "r", secret_id: str = "s") -> ReadinessChecks:
    settings = make_settings(tmp_path, vault_addr=addr, vault_role_id=role_id, vault_secret_id=secret_id)
    # Only the Vault check runs here; it needs none of the other clients.
    none: Any = None
    return ReadinessChecks(settings, none, none, none)


async def expect_not_ready(checks: ReadinessChecks, reason: str) -> None:
    with pytest.raises(NotReady) as caught:
        await checks.vault()
    assert str(caught.value) == reason


async def test_uninitialised_then_sealed_then_ready(tmp_path):
    layout = OpenBaoLayout(tmp_path / "bao", port=free_port(), cluster_port=free_port())
    layout.write_config()
    with (tmp_path / "bao.log").open("wb") as log:
        # Own session: stop_popen signals the process group.
        process = subprocess.Popen(
            layout.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        # The test's own blocking steps (starting, bootstrapping, sealing OpenBao) run off the loop.
        await asyncio.to_thread(wait_for_listener, layout.addr, 60)
        await expect_not_ready(vault_checks(tmp_path, layout.addr), "not initialised")

        keys, creds = await asyncio.to_thread(layout.bootstrap)
        ready = vault_checks(tmp_path, layout.addr, creds.role_id, creds.secret_id)
        await ready.vault()

        await asyncio.to_thread(hvac.Client(url=layout.addr, token=keys.root_token).sys.seal)
        await expect_not_ready(ready, "sealed")
    finally:
        await asyncio.to_thread(stop_popen, process, 10)
