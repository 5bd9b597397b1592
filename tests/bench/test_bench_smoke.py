"""The mail benchmark's statistics, and that its naive design's workflows are valid definitions."""

from __future__ import annotations

from temporalio.workflow import _Definition

from bench.mail.stats import fmt, percentile, ratio
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
