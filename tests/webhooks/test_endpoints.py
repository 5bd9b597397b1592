"""POST /webhooks/graph and /webhooks/graph/lifecycle under hostile input, on a real SQLite outbox:
forged notifications (wrong, missing or another connection's clientState, unknown subscription) leave
nothing in the outbox (the only way to a workflow) and cost at most one clientState read per connection
per refresh interval however many arrive; the validation token comes back only as text/plain; a wrong
content type is 415, an oversized body 413, malformed JSON 400."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from db.connections import Connection
from db.engine import session_scope
from tests.webhooks.support import (
    CountingForwarder,
    Subscribed,
    notification,
    outbox_count,
    subscribed,
)
from webhooks.verify import REFRESH_SECONDS, single_tenant

PATHS = ("/webhooks/graph", "/webhooks/graph/lifecycle")


def body_for(path: str, notifications: list[dict[str, object]]) -> dict[str, object]:
    if path.endswith("/lifecycle"):
        notifications = [{**n, "lifecycleEvent": "missed"} for n in notifications]
    return {"value": notifications}


async def count(engine) -> int:
    return await asyncio.to_thread(outbox_count, engine)


@pytest.mark.parametrize("path", PATHS)
async def test_forged_notifications_leave_nothing_in_the_outbox(setup, states, path):
    app, engine, client = setup
    ours = await asyncio.to_thread(subscribed, engine, states)
    other = await asyncio.to_thread(subscribed, engine, states, "other@acme.example")
    stranger = {**notification(ours), "subscriptionId": str(uuid.uuid4())}
    forged = [
        notification(ours, client_state="not-the-client-state"),
        notification(ours, client_state=ours.client_state + "x"),
        notification(ours, client_state=other.client_state),  # genuine, but another connection's
        {k: v for k, v in notification(ours).items() if k != "clientState"},  # none at all
        stranger,  # a subscription that is not ours, with our genuine clientState
        {**notification(ours), "subscriptionId": "not-even-a-uuid"},
    ]
    response = await client.post(path, json=body_for(path, forged))
    assert response.status_code == 202, response.text
    assert ours.client_state not in response.text
    assert await count(engine) == 0
    forwarder: CountingForwarder = app.state.webhook_forwarder
    assert forwarder.wakes == 0
    dropped = app.state.webhook_verifier.dropped
    assert dropped["client_state_mismatch"] == 4 and dropped["unknown_subscription"] == 2

    # The control: the genuine notification is stored, so the count above could have moved.
    response = await client.post(path, json=body_for(path, [notification(ours)]))
    assert response.status_code == 202
    assert await count(engine) == 1 and forwarder.wakes == 1


async def test_a_flood_of_forged_notifications_costs_a_bounded_number_of_secret_reads(setup, states):
    app, engine, client = setup
    ours = await asyncio.to_thread(subscribed, engine, states)
    cache = app.state.webhook_verifier.cache
    now = [1000.0]
    cache.clock = lambda: now[0]
    forged = [notification(ours, client_state=f"guess-{i}", message_id=f"AAMk{i}=") for i in range(1000)]
    body = json.dumps({"value": forged}).encode()
    json_type = {"content-type": "application/json"}
    for _ in range(5):
        assert (await client.post("/webhooks/graph", content=body, headers=json_type)).status_code == 202
    # 5,000 forged notifications, two reads: the first load, and one re-read for this subscription (a
    # mismatch may be a re-created subscription's new secret); more only once the interval has passed.
    assert states.reads == [ours.connection_id] * 2
    now[0] += REFRESH_SECONDS
    assert (await client.post("/webhooks/graph", content=body, headers=json_type)).status_code == 202
    assert len(states.reads) == 3
    assert await count(engine) == 0
    assert app.state.webhook_verifier.dropped["client_state_mismatch"] == 6000


async def test_a_recreated_subscription_is_heard_at_once(setup, states):
    """Graph removed a subscription and the connection made a new one, with a new clientState: its first
    notification, moments after the old subscription's last, is taken (not held to the re-read interval)."""
    app, engine, client = setup
    old = await asyncio.to_thread(subscribed, engine, states)
    now = [1000.0]
    app.state.webhook_verifier.cache.clock = lambda: now[0]
    json_type = {"content-type": "application/json"}
    # The old subscription's lifecycle notice, then a forged notification on it: the secret is cached
    # and its re-read for the old subscription spent.
    first = {"value": [notification(old), notification(old, client_state="guess")]}
    assert (await client.post("/webhooks/graph", json=first, headers=json_type)).status_code == 202
    new = Subscribed(old.connection_id, str(uuid.uuid4()), "genuine-" + uuid.uuid4().hex)
    states.values[old.connection_id] = new.client_state

    def recreate() -> None:
        with session_scope(engine) as session:
            session.get_one(Connection, uuid.UUID(old.connection_id)).subscription_id = new.subscription_id

    await asyncio.to_thread(recreate)
    now[0] += 1.0  # well within the interval
    second = {"value": [notification(new, message_id="AAMk-after=")]}
    assert (await client.post("/webhooks/graph", json=second, headers=json_type)).status_code == 202
    assert await count(engine) == 2  # the old one's genuine notification, and the new one's


@pytest.mark.parametrize("path", PATHS)
async def test_the_validation_token_comes_back_only_as_plain_text(setup, path):
    _app, engine, client = setup
    token = "Validation: Testing client application reachability <script>alert(1)</script>"
    response = await client.post(
        path, params={"validationToken": token}, headers={"accept": "text/html", "content-type": "text/html"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.text == token
    too_long = await client.post(path, params={"validationToken": "a" * 5000})
    assert too_long.status_code == 400 and "aaaa" not in too_long.text
    assert too_long.json() == {"detail": "validationToken is too long"}
    assert await count(engine) == 0


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/html",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/jsonx",
    ],
)
async def test_a_body_that_is_not_declared_json_is_415(setup, states, path, content_type):
    _app, engine, client = setup
    ours = await asyncio.to_thread(subscribed, engine, states)
    headers = {"content-type": content_type} if content_type else {}
    body = httpx.Request("POST", "/", json=body_for(path, [notification(ours)])).content
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 415, (content_type, response.status_code)
    assert "application/json" in response.json()["detail"]
    assert await count(engine) == 0
    # The same body declared as JSON (with a charset, as Graph sends it) is taken.
    response = await client.post(
        path, content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 202
    assert await count(engine) == 1


@pytest.mark.parametrize("path", PATHS)
async def test_an_oversized_body_is_413_declared_or_streamed(setup, path):
    _app, engine, client = setup
    big = b'{"value": [' + b" " * 1_000_001 + b"]}"
    json_type = {"content-type": "application/json"}
    response = await client.post(path, content=big, headers=json_type)
    assert response.status_code == 413 and response.json() == {"detail": "notification body too large"}

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length to refuse up front
        for _ in range(11):
            yield b" " * 100_000

    response = await client.post(path, content=streamed(), headers=json_type)
    assert response.status_code == 413
    assert await count(engine) == 0


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"value": [}',
        b"\xff\xfe not utf-8",
        b"[]",
        b'"value"',
        b'{"value": {}}',
        b'{"value": [{"clientState": "MARKER"}]}',
        b'{"value": [{"subscriptionId": ""}]}',
        b'{"value": [{"subscriptionId": 12}]}',
        b"[" * 100_000,
    ],
)
async def test_malformed_json_is_400_without_echo(setup, path, body):
    _app, engine, client = setup
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, (body[:40], response.status_code, response.text)
    assert response.json() == {"detail": "body is not a Graph notification collection"}
    assert "MARKER" not in response.text
    assert await count(engine) == 0


async def test_unknown_lifecycle_events_are_ignored(setup, states):
    _app, engine, client = setup
    ours = await asyncio.to_thread(subscribed, engine, states)
    unknown = {**notification(ours), "lifecycleEvent": "somethingNew"}
    response = await client.post("/webhooks/graph/lifecycle", json={"value": [unknown]})
    assert response.status_code == 202
    assert await count(engine) == 0


TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("authority", "tenant"),
    [
        (f"https://login.microsoftonline.com/{TENANT}", TENANT),
        (f"https://login.microsoftonline.com/{TENANT.upper()}/", TENANT),
        ("https://login.microsoftonline.com/common", None),
        ("https://login.microsoftonline.com/organizations", None),
        ("https://login.microsoftonline.com/contoso.onmicrosoft.com", None),
        ("https://127.0.0.1:9443/common", None),
    ],
)
def test_a_single_tenant_deployment_is_recognised_by_its_authority(authority, tenant):
    assert single_tenant(authority) == tenant


@pytest.mark.parametrize("path", PATHS)
async def test_a_single_tenant_deployment_drops_notifications_from_other_tenants(setup, states, path):
    app, engine, client = setup
    app.state.webhook_verifier.tenant_id = TENANT
    ours = await asyncio.to_thread(subscribed, engine, states)
    foreign = [
        {**notification(ours), "tenantId": str(uuid.uuid4())},  # genuine clientState, another tenant
        {k: v for k, v in notification(ours).items() if k != "tenantId"},  # no tenant at all
    ]
    response = await client.post(path, json=body_for(path, foreign))
    assert response.status_code == 202
    assert await count(engine) == 0
    assert app.state.webhook_verifier.dropped["foreign_tenant"] == 2
    # The same notification from the deployment's tenant (Graph writes it in any case) is taken.
    genuine = {**notification(ours), "tenantId": TENANT.upper()}
    assert (await client.post(path, json=body_for(path, [genuine]))).status_code == 202
    assert await count(engine) == 1


@pytest.mark.parametrize("path", PATHS)
async def test_a_connection_takes_notifications_only_from_its_own_tenant(setup, states, path):
    """A deployment for many tenants (MS_AUTHORITY=common) still knows, per connection, the tenant its
    mailbox signed in from: a notification naming that connection's subscription from another tenant
    is dropped, even with the genuine clientState."""
    app, engine, client = setup
    assert app.state.webhook_verifier.tenant_id is None  # the multi-tenant deployment
    ours = await asyncio.to_thread(subscribed, engine, states)
    with session_scope(engine) as session:
        session.get_one(Connection, uuid.UUID(ours.connection_id)).tenant_id = TENANT
    foreign = [
        {**notification(ours), "tenantId": str(uuid.uuid4())},
        {k: v for k, v in notification(ours).items() if k != "tenantId"},
    ]
    assert (await client.post(path, json=body_for(path, foreign))).status_code == 202
    assert await count(engine) == 0
    assert app.state.webhook_verifier.dropped["foreign_tenant"] == 2
    genuine = {**notification(ours), "tenantId": TENANT.upper()}
    assert (await client.post(path, json=body_for(path, [genuine]))).status_code == 202
    assert await count(engine) == 1
