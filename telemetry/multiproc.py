"""Where several processes of one program (the API's uvicorn workers) keep their metrics for one scrape."""

from __future__ import annotations

from pathlib import Path

from telemetry.exposition import MULTIPROC_ENV


def fresh_multiproc_dir(path: Path) -> dict[str, str]:
    """Empties `path` (values of processes that are gone would be summed forever: counters restart with
    the processes, as Prometheus expects) and returns the environment that points prometheus-client at it.
    Call it before the processes start, never while they run."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return {MULTIPROC_ENV: str(path)}
