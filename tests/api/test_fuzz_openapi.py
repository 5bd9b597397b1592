"""Fuzz (issue 12): schemathesis generates requests for every operation in the app's own OpenAPI document,
most of them malformed (negative mode: wrong types, missing fields, bad ids, stray parameters) and some
well-formed, and sends them to the ASGI app twice: anonymously and with a signed-in member's API token.
No answer may be a 5xx, and a request that is refused (4xx) may not change what is stored: every table's
row count is the same after it as before it, and the webhook outbox (the only way to a workflow) stays
empty. Deterministic (derandomized, a fixed number of examples per operation): ~1,700 requests, about
25 s of CPU.

The app runs on a real migrated SQLite database without Vault, Temporal or Microsoft: the stand-ins for
those are objects that fail every call, so a request that got as far as calling one of them would fail
the test with its 5xx. Nothing here needs them: a made-up id is refused before any service is asked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi
from sqlalchemy import Engine, inspect, text

from api.main import create_app
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.webhooks.support import ClientStates, outbox_count, subscribed, webhook_app

EXAMPLES_PER_OPERATION = 20
# Counted across both identities and every operation, for the summary at the end.
TOTALS: dict[str, int] = {"requests": 0}


class Unavailable:
    """Stands in for Temporal, Vault, MSAL, the monday.com token store: any use is a failure."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"the fuzz reached {self._name}.{attribute}: a request got past validation")


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> Any:
    yield


@dataclass
class Fuzzed:
    app: FastAPI
    engine: Engine
    token: str
    client: Any  # one in-process ASGI client (its event loop thread) for every request
    tables: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def counts(self) -> tuple[int, ...]:
        """Every table's row count, in one statement."""
        query = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in self.tables)
        with self.engine.connect() as connection:
            return tuple(connection.execute(text(query)).one())


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    settings = make_settings(data_dir)
    engine = migrated_engine(settings)
    states = ClientStates()
    # A real subscription with a stored clientState, so the webhook has something to refuse forgeries for.
    subscribed(engine, states)
    app = webhook_app(settings, engine, states)
    assert isinstance(app, FastAPI)
    app.router.lifespan_context = _no_lifespan
    for name in ("temporal_client", "identity", "token_store", "mailbox_access", "monday_tokens", "ms_http"):
        setattr(app.state, name, Unavailable(name))
    app.state.payload_codec = Unavailable("payload_codec")
    _user_id, token = add_user(engine, account_name="fuzz-" + uuid.uuid4().hex[:6], role="member")
    tables = sorted(t for t in inspect(engine).get_table_names() if t != "alembic_version")
    with asgi.get_client(cast(Any, app)) as client:
        yield Fuzzed(app, engine, token, client, tables)
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the document, read from an app made only for that."""
    document = create_app(make_settings(Path("/nonexistent"))).openapi()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [(m.upper(), p) for p, ops in document["paths"].items() for m in ops if m in methods]


OPERATIONS = _operations()


def _check(fuzzed: Fuzzed, case: Any, headers: dict[str, str]) -> None:
    before = fuzzed.counts()
    response = case.call(headers=headers, session=fuzzed.client)
    TOTALS["requests"] += 1
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    # /readyz answers 503 by design while Temporal, Vault and Microsoft are away (they are, here).
    if not (case.path == "/readyz" and response.status_code == 503):
        assert response.status_code < 500, where
    if 400 <= response.status_code < 500:
        assert fuzzed.counts() == before, f"a refused request changed what is stored: {where}"
        # Errors are {"detail": ...}; the sign-in form's refusal is its page again (HTML) instead.
        if (response.headers.get("content-type") or [""])[0].startswith("application/json"):
            body = response.json()
            assert isinstance(body, dict) and "detail" in body, where
    assert outbox_count(fuzzed.engine) == 0, where


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_5xx_and_no_state_change_from_malformed_requests(
    method: str, path: str, api_schema: Any, fuzzed: Fuzzed
) -> None:
    operation = api_schema[path][method]
    # Mostly malformed requests (negative mode), and some well-formed ones.
    strategy = operation.as_strategy(GenerationMode.NEGATIVE) | operation.as_strategy(GenerationMode.POSITIVE)

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        _check(fuzzed, case, {})
        _check(fuzzed, case, {"Authorization": f"Bearer {fuzzed.token}"})

    send()


def test_the_fuzz_covered_every_operation_with_thousands_of_requests(api_schema: Any, fuzzed: Fuzzed) -> None:
    """Runs after the fuzz (same module, file order): it reached every operation of the document."""
    assert len(OPERATIONS) >= 40
    assert {(o.ok().method.upper(), o.ok().path) for o in api_schema.get_all_operations()} == set(OPERATIONS)
    assert TOTALS["requests"] >= 1500, TOTALS
    print(f"fuzz: {TOTALS['requests']} requests in {time.monotonic() - fuzzed.started:.1f} s")
