"""One scrape in Prometheus's text format: our counters (every API process's, in multiprocess mode),
gauges read from the database at scrape time, and whatever else the caller adds."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from db.outbox import OutboxRow

log = logging.getLogger("telemetry.exposition")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class OutboxCollector(Collector):
    """Depth and age of the webhook outbox: what Graph was told we have and no workflow has yet."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            with self._engine.connect() as conn:
                depth, oldest = conn.execute(select(func.count(), func.min(OutboxRow.created_at))).one()
        except SQLAlchemyError as err:
            # The counters still answer; the gauges are missing from this scrape, which alerts can see.
            log.warning("outbox gauges unavailable (%s)", type(err).__name__)
            return
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=UTC)
            age = max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily("outlook_outbox_depth", "Rows in the webhook outbox", value=depth)
        yield GaugeMetricFamily(
            "outlook_outbox_oldest_age_seconds",
            "Age of the oldest row in the webhook outbox (0 when empty)",
            value=age,
        )


def render(extra: Iterable[Collector] = ()) -> bytes:
    """Blocking (multiprocess files, the database): call it in a thread from async code."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra:
        extras = CollectorRegistry(auto_describe=False)
        for collector in extra:
            extras.register(collector)
        body += generate_latest(extras)
    return body
