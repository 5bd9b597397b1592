"""Replays every recorded workflow history with today's workflow code and the production converter
(with the tests' codec keyring).

A change to a workflow that would break the histories of running workflows (non-determinism) fails
here. Histories are recorded by the end-to-end tests with RECORD_HISTORIES=1 (see tests/e2e); change
workflow behaviour behind `workflow.patched` so that old histories keep replaying.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.support.codec_keys import TEST_DATA_CONVERTER
from workflows.connection import ConnectionWorkflow
from workflows.message import MessageWorkflow
from workflows.send_email import SendEmailWorkflow

HISTORIES = sorted(
    p for p in (Path(__file__).parent / "histories").iterdir() if p.name.endswith((".json", ".json.gz"))
)


def read_history(path: Path) -> WorkflowHistory:
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.name.endswith(".gz") else raw.decode()
    return WorkflowHistory.from_json(path.name.split(".")[0], text)


def test_histories_are_recorded() -> None:
    assert len(HISTORIES) >= 3, "record histories: RECORD_HISTORIES=1 pytest tests/e2e tests/workflows"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.name.split(".")[0] for p in HISTORIES])
async def test_replays_without_non_determinism(path: Path) -> None:
    # The tests' keyring: histories recorded since the codec carry payloads encrypted with it; older
    # ones carry plain payloads, which the codec passes through.
    replayer = Replayer(
        workflows=[ConnectionWorkflow, MessageWorkflow, SendEmailWorkflow], data_converter=TEST_DATA_CONVERTER
    )
    await replayer.replay_workflow(read_history(path))
