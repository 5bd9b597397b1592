"""The thread pool for blocking calls (SQLAlchemy, hvac) of the worker and the API, measuring its queue.

`asyncio.to_thread` hands a job to the loop's default executor; when every thread is busy the job waits
in the executor's queue, and that wait is invisible from outside: it shows up only as slower activities
or requests. So the pool records, per job, the time from submit to a thread taking it, in a fixed
histogram (memory does not grow with the jobs), with the count and the maximum. A snapshot is a Pydantic
model, so the log line it is written to (and the benchmark that reads it back) has one checked shape.
"""

from __future__ import annotations

import bisect
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from pydantic import BaseModel, Field

P = ParamSpec("P")
T = TypeVar("T")

# Bucket upper bounds in seconds: 10 us, then each 2^(1/4) (19%) wider, up to about 5.6 minutes; one
# more bucket holds anything longer. Quantiles are read to within a bucket, which is fine for telling
# "no queue" (tens of microseconds) from "a queue" (milliseconds and up).
FIRST_BOUND = 1e-5
STEP = 2**0.25
BOUNDS = tuple(FIRST_BOUND * STEP**i for i in range(100))


class PoolWaits(BaseModel):
    """How long jobs waited for a thread: so far (a snapshot) or between two snapshots (`since`)."""

    pool: str = Field(description="the pool's thread name prefix")
    threads: int = Field(ge=1, description="the pool's maximum number of threads")
    jobs: int = Field(0, ge=0)
    total_wait_seconds: float = Field(0.0, ge=0)
    max_wait_seconds: float = Field(0.0, ge=0)
    # Bucket index (see BOUNDS; len(BOUNDS) = longer than the last bound) -> jobs; empty buckets left out.
    buckets: dict[int, int] = Field(default_factory=dict)

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket holding the q-quantile (0 < q <= 1), at most the maximum: an
        estimate on the safe side, to within one bucket (19%)."""
        if self.jobs == 0:
            return 0.0
        rank = max(1, round(q * self.jobs))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                bound = BOUNDS[index] if index < len(BOUNDS) else self.max_wait_seconds
                return min(bound, self.max_wait_seconds)
        return self.max_wait_seconds

    def since(self, earlier: PoolWaits) -> PoolWaits:
        """The jobs between `earlier` and this snapshot of the same pool. Their maximum is not kept per
        interval: it is estimated as the upper bound of the highest bucket that gained jobs (at most
        this snapshot's maximum)."""
        buckets = {i: n - earlier.buckets.get(i, 0) for i, n in self.buckets.items()}
        buckets = {i: n for i, n in buckets.items() if n > 0}
        top = max(buckets, default=None)
        highest = 0.0 if top is None else (BOUNDS[top] if top < len(BOUNDS) else self.max_wait_seconds)
        return PoolWaits(
            pool=self.pool,
            threads=self.threads,
            jobs=self.jobs - earlier.jobs,
            total_wait_seconds=max(0.0, self.total_wait_seconds - earlier.total_wait_seconds),
            max_wait_seconds=min(highest, self.max_wait_seconds),
            buckets=buckets,
        )

    def summary(self) -> str:
        """For people: jobs and the waits' p50 / p99 / max in milliseconds."""
        return (
            f"{self.jobs} jobs on {self.threads} threads, queue wait p50 {self.quantile(0.5) * 1000:.2f} ms,"
            f" p99 {self.quantile(0.99) * 1000:.2f} ms, max {self.max_wait_seconds * 1000:.2f} ms"
        )


class WaitHistogram:
    """Thread-safe counts of waits: a lock around a few integer updates, far cheaper than the jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (len(BOUNDS) + 1)
        self._jobs = 0
        self._total = 0.0
        self._max = 0.0

    def record(self, seconds: float) -> None:
        index = bisect.bisect_left(BOUNDS, seconds)
        with self._lock:
            self._counts[index] += 1
            self._jobs += 1
            self._total += seconds
            self._max = max(self._max, seconds)

    def snapshot(self, pool: str, threads: int) -> PoolWaits:
        with self._lock:
            buckets = {i: n for i, n in enumerate(self._counts) if n}
            return PoolWaits(
                pool=pool,
                threads=threads,
                jobs=self._jobs,
                total_wait_seconds=self._total,
                max_wait_seconds=self._max,
                buckets=buckets,
            )


def _timed(waits: WaitHistogram, clock: Callable[[], float], queued: float, call: Callable[[], T]) -> T:
    waits.record(clock() - queued)
    return call()


class MeasuredThreadPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that records how long each job waited for a thread (see `waits()`)."""

    def __init__(
        self, max_workers: int, thread_name_prefix: str, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.threads = max_workers
        self.name = thread_name_prefix
        self._waits = WaitHistogram()
        self._clock = clock  # a test's own clock makes waits exact without sleeping

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        call = functools.partial(fn, *args, **kwargs)
        return super().submit(_timed, self._waits, self._clock, self._clock(), call)

    def waits(self) -> PoolWaits:
        return self._waits.snapshot(self.name, self.threads)
