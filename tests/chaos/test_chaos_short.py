"""The short form of `make chaos` (chaos/): four of the cheapest faults, one at a time on the whole stack
as `make run` starts it (API and worker in their own processes, the Temporal dev server with its SQLite
file, OpenBao, the emulator), each while 60 emails flow through 6 connections; every check of the full
suite asserted: each expected item exactly once, none from junk, deleted or sent mail, no Graph call
before its Retry-After, nothing acknowledged to Graph lost, only the revoked connection stopped (with its
reason), and the outgoing recipe sent one email per item. About two minutes on the 2-core machine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.mail.stack import running_stack
from chaos.faults import catalogue
from chaos.run import LoadOptions, run_fault
from tests.e2e.conftest import Stack

SHORT = LoadOptions(emails=60, connections=6, rate=10.0, recover_timeout=120.0)
FAULTS = catalogue(hold=5.0, openbao_seconds=30.0, board_seconds=60.0, db_seconds=30.0)


@pytest.fixture(scope="module")
async def chaos_stack() -> AsyncIterator[Stack]:
    async with running_stack(naive=False, temporal_process=True) as stack:
        yield stack


@pytest.mark.timeout(300)  # items within 120 s, then the emails within 92 s (chaos.run._sends_wait)
@pytest.mark.parametrize("fault", ["throttle", "repeat", "worker-kill", "revoke"])
async def test_fault_under_load_passes_every_check(chaos_stack: Stack, fault: str) -> None:
    report = await run_fault(chaos_stack, FAULTS[fault], SHORT)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    assert not failed, (failed, report.figures)
    assert report.figures["made"] == report.figures["expected"] > 0
    if fault == "throttle":
        # The fault really throttled: many answers carried a Retry-After, and none was broken.
        assert report.figures["retry_after_answers"] >= 20, report.figures
        # Every hold was found in the service's logs, so the check ran on when calls were sent.
        assert report.figures["retry_after_holds_logged"] == report.figures["retry_after_answers"]
    if fault == "revoke":
        assert report.figures["expected"] == SHORT.emails - SHORT.emails // SHORT.connections
        assert report.figures["revoked_status"].startswith("revoked: ")
    assert report.figures["sent"] == report.figures["sends_items"] > 0
