"""The mail benchmark's statistics, that its naive design's workflows are valid definitions, and how it
tells the previous release's workflows and processes from the product's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.workflow import _Definition

from bench.mail import cpu
from bench.mail.measure import of_type
from bench.mail.phases import Design
from bench.mail.stats import fmt, percentile, ratio
from bench.mail.today import TODAY_COMMIT
from bench.mail_pipeline import render
from bench.naive.workflows import NaiveConnectionWorkflow, NaiveMessageWorkflow


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_ratios_and_formatting_tolerate_missing_figures() -> None:
    assert ratio(10.0, 4.0) == 2.5
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0.0) is None
    assert fmt(None) == "n/a"
    assert fmt(2.5, "x", 2) == "2.50x"


def test_naive_workflows_are_definitions() -> None:
    assert _Definition.must_from_class(NaiveConnectionWorkflow).name == "NaiveConnectionWorkflow"
    assert _Definition.must_from_class(NaiveMessageWorkflow).name == "NaiveMessageWorkflow"
    assert "notified" in _Definition.must_from_class(NaiveConnectionWorkflow).signals


def test_designs_are_told_apart_by_task_queue() -> None:
    # Both releases name their workflows alike; the previous release's run on its own task queue.
    assert of_type("MessageWorkflow") == "WorkflowType = 'MessageWorkflow'"
    assert of_type("MessageWorkflow", "q-1") == "WorkflowType = 'MessageWorkflow' AND TaskQueue = 'q-1'"
    design = Design("today", "MessageWorkflow", "ConnectionWorkflow", "q-2")
    assert design.connections == "WorkflowType = 'ConnectionWorkflow' AND TaskQueue = 'q-2'"


def test_today_commit_is_the_previous_release() -> None:
    assert len(TODAY_COMMIT) == 40
    root = Path(__file__).resolve().parents[2]
    shallow = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
    )
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        pytest.skip("not a full git checkout")
    kind = subprocess.run(
        ["git", "-C", str(root), "cat-file", "-t", TODAY_COMMIT], capture_output=True, text=True
    )
    assert kind.stdout.strip() == "commit"


def test_cpu_of_a_labelled_directory_is_named_after_it(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("import time\ntime.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "worker.py"], cwd=tmp_path)
    try:
        cpu.label_directory(tmp_path, "today")
        deadline = time.monotonic() + 10
        while "today worker" not in cpu.snapshot():
            assert time.monotonic() < deadline, cpu.snapshot()
            time.sleep(0.05)
    finally:
        cpu._LABELS.pop(tmp_path.resolve(), None)
        child.kill()
        child.wait()


def test_render_compares_the_product_with_todays_design() -> None:
    def phase(rate: float) -> dict[str, Any]:
        return {"emails_per_second": rate, "events_per_email": 10.0, "cpu_ms_per_email": {"all": 50.0}}

    report = {"options": {}, "product_burst": phase(30.0), "today_burst": phase(20.0)}
    text = render(report)
    assert "| emails/s (burst) | 30.000 | 20.000 | n/a | 1.50x | n/a |" in text
    assert "burst product/today 1.50x: PASS" in text
    report["today_burst"] = phase(40.0)
    assert "burst product/today 0.75x: FAIL" in render(report)
