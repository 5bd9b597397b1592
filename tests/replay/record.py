"""Recording workflow histories for the replay tests (RECORD_HISTORIES=1 while running tests/e2e and
tests/workflows)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from temporalio.client import Client

HISTORIES = Path(__file__).resolve().parent / "histories"
RECORD = os.environ.get("RECORD_HISTORIES") == "1"


async def write_histories(client: Client, workflow_id: str, name: str) -> None:
    """Writes every run of the workflow, oldest first: continue-as-new makes one history per run."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for old in HISTORIES.glob(f"{name}-run*.json"):
        old.unlink()
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    runs.sort(key=lambda e: e.start_time)
    for index, execution in enumerate(runs, start=1):
        handle = client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        history = await handle.fetch_history()
        (HISTORIES / f"{name}-run{index}.json").write_text(history.to_json())


async def write_single_run(client: Client, workflow_id: str, name: str) -> None:
    """For servers without visibility (the time-skipping one): the workflow's latest run only."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}-run1.json").write_text(history.to_json())


async def write_run(client: Client, workflow_id: str, run_id: str | None, name: str) -> None:
    """One run by its id (None: the latest), e.g. a first run that ended in continue-as-new; gzipped,
    as such a run holds thousands of events."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    (HISTORIES / f"{name}.json.gz").write_bytes(gzip.compress(history.to_json().encode(), mtime=0))
