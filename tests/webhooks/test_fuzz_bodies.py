"""Fuzz (issue 12): hypothesis sends the three webhooks (Graph's notification and lifecycle URLs, and a
known monday.com webhook URL) bodies of every shape: raw bytes, any JSON, and near-Graph notifications
whose fields are right, wrong or missing, naming our real subscription or another, with any clientState
but the genuine one, under any content type. No answer is a 5xx or anything but 202/400/413/415 (and
the monday.com endpoint's 200 for a well-formed delivery), errors are {"detail": ...}, and nothing is
stored: the outbox stays empty (nothing reaches a workflow) and no board event is written for a refused
request. Deterministic (derandomized) with a fixed number of examples."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

from tests.monday.webhook_support import add_recipe, add_webhook_row, count_events, outgoing_spec
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.webhooks.support import ClientStates, Subscribed, outbox_count, subscribed, webhook_app

EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
GRAPH_PATHS = ("/webhooks/graph", "/webhooks/graph/lifecycle")
SENT = {"requests": 0}


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> Any:
    yield


@dataclass
class Target:
    client: Any  # schemathesis' in-process ASGI client (requests' interface, one event loop thread)
    engine: Any
    ours: Subscribed
    monday_path: str
    app: FastAPI


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    app_settings = make_settings(tmp_path_factory.mktemp("webhook-fuzz"))
    engine = migrated_engine(app_settings)
    states = ClientStates()
    ours = subscribed(engine, states)
    user_id, _token = add_user(engine, account_name="monday-fuzz")
    secret = add_webhook_row(engine, user_id, add_recipe(engine, user_id, outgoing_spec()))
    app = webhook_app(app_settings, engine, states)
    app.router.lifespan_context = _no_lifespan
    with asgi.get_client(cast(Any, app)) as client:
        yield Target(client, engine, ours, f"/webhooks/monday/{secret}", app)
    engine.dispose()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=30,
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
        "application/json\x7f",
    ]
)


def near_notification(subscription_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """A Graph notification with each field right, wrong or missing; never the genuine clientState."""
    field_values: dict[str, st.SearchStrategy[Any]] = {
        "subscriptionId": st.sampled_from([subscription_id, str(uuid.uuid4()), "", "x" * 300]) | json_values,
        "clientState": st.text(max_size=300) | json_values,
        "changeType": st.sampled_from(["created", "updated", "deleted"]) | json_values,
        "lifecycleEvent": st.sampled_from(["missed", "subscriptionRemoved", "reauthorizationRequired"])
        | json_values,
        "resource": st.text(max_size=100).map(lambda t: f"Users/x/Messages/{t}") | json_values,
        "resourceData": st.fixed_dictionaries({}, optional={"id": st.text(max_size=600) | json_values})
        | json_values,
        "tenantId": st.text(max_size=80) | json_values,
    }
    return st.fixed_dictionaries({}, optional=field_values)


def graph_bodies(subscription_id: str) -> st.SearchStrategy[bytes]:
    documents = (
        st.fixed_dictionaries({"value": st.lists(near_notification(subscription_id), max_size=8)})
        | st.fixed_dictionaries({"value": json_values})
        | json_values
    )
    return documents.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=200)


def _post(target: Target, path: str, body: bytes, content_type: str) -> Any:
    headers = {"content-type": content_type} if content_type else {}
    SENT["requests"] += 1
    return target.client.post(path, data=body, headers=headers)


def _refusal_is_detail(response: Any) -> None:
    if response.status_code >= 400:
        assert set(response.json()) == {"detail"}, response.text


@pytest.mark.parametrize("path", GRAPH_PATHS)
def test_graph_webhook_bodies_never_5xx_and_never_reach_the_outbox(target: Target, path: str) -> None:
    @FUZZ
    @given(body=graph_bodies(target.ours.subscription_id), content_type=content_types)
    def send(body: bytes, content_type: str) -> None:
        response = _post(target, path, body, content_type)
        assert response.status_code in (202, 400, 413, 415), (response.status_code, response.text, body[:200])
        _refusal_is_detail(response)
        assert target.ours.client_state not in response.text
        assert outbox_count(target.engine) == 0, body[:200]

    send()
    # The verifier saw forged notifications naming our subscription, and dropped every one.
    assert target.app.state.webhook_verifier.dropped["client_state_mismatch"] > 0


def test_monday_webhook_bodies_never_5xx_and_store_nothing_when_refused(target: Target) -> None:
    @FUZZ
    @given(
        body=json_values.map(lambda d: json.dumps(d).encode())
        | st.binary(max_size=200)
        | st.fixed_dictionaries({}, optional={"challenge": json_values, "event": json_values}).map(
            lambda d: json.dumps(d).encode()
        ),
        content_type=content_types,
    )
    def send(body: bytes, content_type: str) -> None:
        before = count_events(target.engine)
        response = _post(target, target.monday_path, body, content_type)
        assert response.status_code in (200, 400, 413, 415), (response.status_code, response.text, body[:200])
        _refusal_is_detail(response)
        if response.status_code != 200:
            assert count_events(target.engine) == before, body[:200]

    send()


def test_the_fuzz_sent_thousands_of_bodies() -> None:
    """Runs after the fuzz above (same module, file order)."""
    assert SENT["requests"] >= 3 * EXAMPLES, SENT
