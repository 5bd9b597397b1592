"""GET /metrics after webhook requests, on the real app and a real SQLite outbox: the counters of
received, refused (forged), acknowledged notifications and the ack latency move by what was sent, the
outbox gauges read the table at scrape time, and no label carries an id, a mailbox or a clientState."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.webhooks.support import notification, subscribed


async def scrape(
    client: httpx.AsyncClient,
) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.text, samples


def value(samples, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


async def test_webhook_counters_move_and_labels_stay_anonymous(setup, states):
    _app, engine, client = setup
    ours = await asyncio.to_thread(subscribed, engine, states, "metrics-mailbox@acme.example")
    _text, before = await scrape(client)

    genuine = [notification(ours, message_id=f"AAMkMetrics{i}=") for i in range(3)]
    forged = [notification(ours, client_state="forged-client-state", message_id="AAMkForged=")]
    response = await client.post("/webhooks/graph", json={"value": genuine + forged})
    assert response.status_code == 202
    lifecycle = [{**notification(ours), "lifecycleEvent": "missed"}]
    assert (await client.post("/webhooks/graph/lifecycle", json={"value": lifecycle})).status_code == 202
    assert (
        await client.post("/webhooks/graph", content=b"{", headers={"content-type": "application/json"})
    ).status_code == 400

    text, after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("outlook_webhook_notifications_received_total", endpoint="change") == 4
    assert moved("outlook_webhook_notifications_received_total", endpoint="lifecycle") == 1
    assert moved("outlook_webhook_notifications_refused_total", reason="client_state_mismatch") == 1
    assert moved("outlook_webhook_notifications_acknowledged_total", endpoint="change") == 3
    assert moved("outlook_webhook_notifications_acknowledged_total", endpoint="lifecycle") == 1
    assert moved("outlook_webhook_ack_seconds_count", endpoint="change", status="202") == 1
    assert moved("outlook_webhook_ack_seconds_count", endpoint="change", status="400") == 1
    assert moved("outlook_webhook_ack_seconds_count", endpoint="lifecycle", status="202") == 1
    # Read from the table now: two rows (the change batch, the lifecycle event), the oldest just made.
    assert value(after, "outlook_outbox_depth") == 2
    assert 0 <= value(after, "outlook_outbox_oldest_age_seconds") < 60

    for secret in (
        ours.client_state,
        "forged-client-state",
        ours.connection_id,
        ours.subscription_id,
        "metrics-mailbox",
        "AAMkMetrics0",
    ):
        assert secret not in text


async def test_an_empty_outbox_has_depth_and_age_zero(setup):
    _app, _engine, client = setup
    _text, samples = await scrape(client)
    assert value(samples, "outlook_outbox_depth") == 0
    assert value(samples, "outlook_outbox_oldest_age_seconds") == 0
