"""The mail benchmark's worker-pool figures: a phase's queue waits from two snapshots of the worker's
pool, and the rows the table prints (n/a where a design's worker has no such pool)."""

from __future__ import annotations

from bench.mail import pool_waits
from bench.mail_pipeline import render
from config.executor import WaitHistogram


def test_a_phase_is_the_difference_of_two_snapshots() -> None:
    histogram = WaitHistogram()
    histogram.record(2.0)  # before the phase: not the phase's
    before = histogram.snapshot("worker-io", 6)
    for _ in range(99):
        histogram.record(0.0001)
    histogram.record(0.05)
    figures = pool_waits.figures(before, histogram.snapshot("worker-io", 6))
    assert figures["pool_threads"] == 6 and figures["pool_jobs"] == 100
    assert 0.1 <= figures["pool_wait_p50_ms"] <= 0.1 * 2**0.25
    assert 0.1 <= figures["pool_wait_p99_ms"] <= 0.1 * 2**0.25
    assert 50 <= figures["pool_wait_max_ms"] <= 50 * 2**0.25


def test_without_a_snapshot_the_figures_are_missing_and_the_table_says_so() -> None:
    assert set(pool_waits.figures(None, None).values()) == {None}
    report = {
        "options": {},
        "product_burst": {"pool_threads": 16, "pool_wait_p99_ms": 1.5},
        "today_burst": pool_waits.figures(None, None),
    }
    table = render(report)
    assert "| worker pool queue wait p99 ms (burst) | 1.500 | n/a |" in table
