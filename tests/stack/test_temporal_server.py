"""The Temporal side of the stack: search attributes kept in one list, the fixture and the dev server."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from stack.procgroup import stop_popen
from stack.temporal import SEARCH_ATTRIBUTES, TemporalDevServer, check_temporal
from tests.support.servers import free_port
from workflows import search_attributes


def test_workflow_keys_match_the_registered_list() -> None:
    """Workflows set exactly the attributes the dev server registers, with the same types."""
    assert {key.name: "Keyword" for key in search_attributes.ALL} == SEARCH_ATTRIBUTES


async def test_temporal_env_fixture_has_the_search_attributes(temporal_env: WorkflowEnvironment) -> None:
    client = temporal_env.client
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    for name in SEARCH_ATTRIBUTES:
        assert response.custom_attributes[name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


async def _wait_healthy(address: str, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                await check_temporal(address)
                return
            except Exception:
                await asyncio.sleep(0.2)


async def test_dev_server_persists_to_its_file_and_restarts(tmp_path: Path) -> None:
    """The `make run` command line: SQLite file in write-ahead-log mode with every commit synced,
    attributes registered, and a restart on the same file."""
    server = TemporalDevServer(tmp_path / "temporal", port=free_port(), ui_port=free_port())
    for run in range(2):
        process = subprocess.Popen(server.command(), start_new_session=True, stdout=subprocess.DEVNULL)
        try:
            await _wait_healthy(server.address)
            client = await Client.connect(server.address)
            if run == 0:
                # No worker: the workflow just stays open, which is all this needs.
                await client.start_workflow("Anything", id="persisted", task_queue="nobody-polls")
            else:
                description = await client.get_workflow_handle("persisted").describe()
                assert description.status == WorkflowExecutionStatus.RUNNING
        finally:
            assert stop_popen(process) == 0
        assert server.db_path.exists()
        with contextlib.closing(sqlite3.connect(server.db_path)) as database:
            assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # Durable at every commit: SQLite's default synchronous=FULL is not lowered.
    assert not [arg for arg in server.command() if arg.startswith("synchronous")]
