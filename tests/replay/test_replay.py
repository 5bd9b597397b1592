"""Replays every recorded workflow history with today's workflow code and the production converter.

A change to a workflow that would break the histories of running workflows (non-determinism) fails
here. Histories are recorded by the end-to-end tests with RECORD_HISTORIES=1 (see tests/e2e); change
workflow behaviour behind `workflow.patched` so that old histories keep replaying.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.connection import ConnectionWorkflow
from workflows.message import MessageWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    assert len(HISTORIES) >= 3, "record histories: RECORD_HISTORIES=1 pytest tests/e2e tests/workflows"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replays_without_non_determinism(path: Path) -> None:
    replayer = Replayer(
        workflows=[ConnectionWorkflow, MessageWorkflow], data_converter=pydantic_data_converter
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer.replay_workflow(history)
