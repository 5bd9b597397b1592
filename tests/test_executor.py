"""The measured thread pool (config/executor.py): each job's wait for a thread is recorded (a test clock
makes the waits exact, no sleeping), the histogram stays the same size whatever the number of jobs,
and shutting down leaves no thread behind. Plus the worker's log line of it, read back as the
benchmark reads it (worker_pool.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest

import worker_pool
from config.executor import BOUNDS, MeasuredThreadPool, PoolWaits, WaitHistogram


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_a_job_queued_behind_a_busy_thread_records_its_wait() -> None:
    clock = Clock()
    pool = MeasuredThreadPool(1, thread_name_prefix="test-waits", clock=clock)
    running, release = threading.Event(), threading.Event()

    def hold() -> str:
        running.set()
        release.wait()
        return "held"

    first = pool.submit(hold)
    running.wait()  # the only thread has taken it at once: no wait
    second = pool.submit(lambda x: x * 2, 21)  # queued: the thread is busy
    clock.now += 2.5
    release.set()
    assert first.result() == "held" and second.result() == 42
    pool.shutdown(wait=True)

    waits = pool.waits()
    assert (waits.pool, waits.threads, waits.jobs) == ("test-waits", 1, 2)
    assert waits.max_wait_seconds == pytest.approx(2.5)
    assert waits.total_wait_seconds == pytest.approx(2.5)
    assert waits.quantile(0.5) <= BOUNDS[0]  # the first job did not wait
    assert waits.quantile(0.99) == pytest.approx(2.5)  # the bucket's bound, capped at the maximum


def test_a_failing_job_still_fails_and_still_counts() -> None:
    pool = MeasuredThreadPool(2, thread_name_prefix="test-fails")

    def boom() -> None:
        raise ValueError("from the job")

    with pytest.raises(ValueError, match="from the job"):
        pool.submit(boom).result()
    pool.shutdown(wait=True)
    assert pool.waits().jobs == 1


def test_the_histogram_has_a_fixed_size_and_quantiles_within_a_bucket() -> None:
    histogram = WaitHistogram()
    # 100,000 waits of 1 ms to 1 s (and a few far outside the bounds): the memory is the same as for one.
    for i in range(100_000):
        histogram.record((i % 1000 + 1) / 1000)
    histogram.record(0.0)
    histogram.record(10_000.0)
    waits = histogram.snapshot("h", 4)
    assert waits.jobs == 100_002
    assert len(waits.buckets) <= len(BOUNDS) + 1
    assert max(waits.buckets) == len(BOUNDS)  # the overflow bucket
    assert len(waits.model_dump_json()) < 4000
    assert 0.5 <= waits.quantile(0.5) <= 0.5 * 2**0.25
    assert 0.99 <= waits.quantile(0.99) <= 0.99 * 2**0.25
    assert waits.max_wait_seconds == 10_000.0


def test_waits_between_two_snapshots() -> None:
    histogram = WaitHistogram()
    for _ in range(10):
        histogram.record(0.5)
    earlier = histogram.snapshot("h", 2)
    for _ in range(5):
        histogram.record(0.001)
    later = histogram.snapshot("h", 2)

    phase = later.since(earlier)
    assert phase.jobs == 5
    assert phase.total_wait_seconds == pytest.approx(0.005)
    # Its maximum is the highest bucket it gained, not the earlier 0.5 s.
    assert 0.001 <= phase.max_wait_seconds <= 0.001 * 2**0.25
    assert phase.quantile(0.99) <= phase.max_wait_seconds
    assert later.since(later).jobs == 0 and later.since(later).quantile(0.99) == 0.0


def test_shutdown_leaves_no_thread_and_refuses_new_jobs() -> None:
    pool = MeasuredThreadPool(3, thread_name_prefix="test-shutdown")
    assert [f.result() for f in [pool.submit(pow, 2, n) for n in range(20)]] == [2**n for n in range(20)]
    assert 1 <= len(_threads("test-shutdown")) <= 3
    pool.shutdown(wait=True)
    assert _threads("test-shutdown") == []
    with pytest.raises(RuntimeError):
        pool.submit(print)
    assert pool.waits().jobs == 20


def test_as_a_loops_default_executor_to_thread_goes_through_it() -> None:
    pool = MeasuredThreadPool(2, thread_name_prefix="test-loop")

    async def main() -> list[str]:
        asyncio.get_running_loop().set_default_executor(pool)
        return list(
            await asyncio.gather(
                *(asyncio.to_thread(lambda: threading.current_thread().name) for _ in range(8))
            )
        )

    # A loop of its own: asyncio.run shuts its default executor down at the end.
    names = asyncio.run(main())
    assert all(name.startswith("test-loop") for name in names)
    assert pool.waits().jobs == 8
    assert _threads("test-loop") == []


def test_the_workers_log_line_reads_back(caplog: pytest.LogCaptureFixture) -> None:
    pool = MeasuredThreadPool(5, thread_name_prefix="worker-io")
    pool.submit(int).result()
    pool.shutdown(wait=True)
    with caplog.at_level(logging.INFO, logger="worker.pool"):
        worker_pool.log_waits(pool)
    line = caplog.records[-1].getMessage()
    assert "1 jobs on 5 threads" in line
    assert worker_pool.read_waits(line) == pool.waits()
    assert worker_pool.read_waits("polling task queue q") is None
    # The same line as a JSON log line (LOG_FORMAT=json) reads the same.
    record = json.dumps({"time": "t", "level": "INFO", "logger": "worker_pool", "message": line})
    assert worker_pool.read_waits(record) == pool.waits()
    assert isinstance(worker_pool.read_waits(line), PoolWaits)
