"""The worker's metrics endpoint (telemetry/worker_server.py) on a free port: one scrape carries the
Temporal SDK's runtime metrics, from a worker that polled a real dev server through a client on the
Prometheus runtime, and our own counters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from telemetry.metrics import EMAILS_SENT
from telemetry.worker_server import MetricsServer, sdk_runtime, start_worker_metrics


@activity.defn(name="metrics_probe")
async def metrics_probe() -> str:
    EMAILS_SENT.labels(result="sent").inc()  # as the send_email activity counts
    return "ok"


@workflow.defn(name="MetricsProbeWorkflow", sandboxed=False)
class MetricsProbeWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(metrics_probe, start_to_close_timeout=timedelta(seconds=30))


def _families(text: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


async def test_one_scrape_serves_the_sdk_metrics_and_ours(temporal_env):
    runtime, sdk_url = sdk_runtime()
    target = temporal_env.client.service_client.config.target_host
    client = await Client.connect(target, namespace=temporal_env.client.namespace, runtime=runtime)
    server = MetricsServer(0, sdk_url)
    try:
        before = _families((await asyncio.to_thread(httpx.get, server.url)).text)
        queue = f"metrics-{uuid.uuid4().hex}"
        async with Worker(
            client, task_queue=queue, workflows=[MetricsProbeWorkflow], activities=[metrics_probe]
        ):
            result = await client.execute_workflow(
                MetricsProbeWorkflow.run, id=f"metrics-{uuid.uuid4().hex}", task_queue=queue
            )
        assert result == "ok"
        response = await asyncio.to_thread(httpx.get, server.url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        after = _families(response.text)  # parses: the two pages joined are one valid exposition
        # Temporal's own: the workflow and activity tasks this worker completed, its client's requests.
        assert after.get("temporal_workflow_completed_total", 0) >= 1, sorted(after)
        assert after.get("temporal_activity_execution_latency_count", 0) >= 1, sorted(after)
        assert any(name.startswith("temporal_request") for name in after), sorted(after)
        # Ours, counted in the activity.
        sent = "outlook_emails_sent_total"
        assert after.get(sent, 0) - before.get(sent, 0) == 1
        assert (
            await asyncio.to_thread(httpx.get, server.url.replace("/metrics", "/other"))
        ).status_code == 404
    finally:
        server.close()


def test_port_zero_serves_nothing_and_a_busy_port_costs_only_the_metrics():
    assert start_worker_metrics(0) is None
    taken = MetricsServer(0, None)
    try:
        assert start_worker_metrics(taken.port) is None
    finally:
        taken.close()
