"""The CLI against the real FastAPI app (real SQLite, migrated) through httpx's ASGI transport: what it
prints, to which stream, and its exit code. Temporal is not running here: the routes that need it get a
stand-in that records what it was asked (or fails as an unreachable engine does)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.main import create_app
from cli.app import run
from tests.support.appdb import add_user, make_settings, migrated_engine


@dataclass
class Result:
    code: int
    out: str
    err: str


class RecordingTemporal:
    """Takes what the routes ask of Temporal and remembers it; with `fail`, raises what the SDK raises
    when the engine does not answer."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.started: list[dict[str, Any]] = []
        self.updates: list[tuple[str, Any]] = []
        self.signals: list[tuple[str, Any, Any]] = []

    async def start_workflow(self, *args: Any, **kwargs: Any) -> None:
        if self.fail:
            raise self.fail
        self.started.append(kwargs)

    def get_workflow_handle(self, workflow_id: str, **options: Any) -> Any:
        outer = self

        class Handle:
            async def execute_update(self, update: Any, request: Any) -> int:
                if outer.fail:
                    raise outer.fail
                outer.updates.append((workflow_id, request))
                return len(request.message_ids)

            async def signal(self, signal: Any, arg: Any = None, **kwargs: Any) -> None:
                if outer.fail:
                    raise outer.fail
                outer.signals.append((workflow_id, signal, arg))

        return Handle()


class Untouchable:
    """Microsoft's identity platform and Vault, which no route these tests call may reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"must not be used here ({name})")


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def temporal() -> RecordingTemporal:
    return RecordingTemporal()


@pytest.fixture
def app(tmp_path, engine, temporal):
    app = create_app(make_settings(tmp_path))
    # ASGITransport does not run the lifespan, which would have put these on app.state.
    app.state.engine = engine
    app.state.temporal_client = temporal
    app.state.identity = Untouchable()
    app.state.token_store = Untouchable()
    return app


@pytest.fixture
def admin(engine):
    """(user id, plain token) of an admin of account "acme"."""
    return add_user(engine, account_name="acme", role="admin")


@pytest.fixture
def cli(app, admin, tmp_path):
    """Runs `python -m cli ARGS` in-process against the app as `admin` (another token with token=)."""

    async def invoke(*argv: str, stdin: str = "", token: str | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = await run(
            ["--api", "http://testserver", *argv],
            stdin=io.StringIO(stdin),
            stdout=out,
            stderr=err,
            environ={"OI_API_TOKEN": admin[1] if token is None else token},
            cwd=tmp_path,
            transport=httpx.ASGITransport(app=app),
        )
        return Result(code, out.getvalue(), err.getvalue())

    return invoke
