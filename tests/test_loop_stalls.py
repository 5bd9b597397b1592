"""The check for a blocked event loop (tests/support/loop_stalls.py) catches a route that blocks it and
leaves alone the routes that do not: run in a pytest of its own, as the API tests are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

ROUTES = """
import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.usefixtures("no_loop_stalls")

app = FastAPI()


@app.get("/sleeps-on-the-loop")
async def sleeps_on_the_loop() -> str:
    time.sleep(0.3)  # a blocking call in an async route: nothing else runs meanwhile
    return "late"


@app.get("/sleeps-in-a-thread")
async def sleeps_in_a_thread() -> str:
    await asyncio.to_thread(time.sleep, 0.3)
    return "on time"


@app.get("/sync-route")
def sync_route() -> str:
    time.sleep(0.3)  # FastAPI runs a plain def route in its thread pool
    return "on time"


async def get(path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path)


async def test_sleeps_on_the_loop():
    assert (await get("/sleeps-on-the-loop")).status_code == 200


async def test_sleeps_in_a_thread():
    assert (await get("/sleeps-in-a-thread")).status_code == 200


async def test_sync_route():
    assert (await get("/sync-route")).status_code == 200
"""


def run_guarded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, **files: str) -> pytest.RunResult:
    """These test files in a pytest of their own, with the check loaded and one loop for the session."""
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = session
        asyncio_default_test_loop_scope = session
        """
    )
    pytester.makepyfile(**files)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    return pytester.runpytest_subprocess("-p", "tests.support.loop_stalls", "-p", "no:cacheprovider")


def test_a_blocking_route_fails_its_test_and_others_pass(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_guarded(pytester, monkeypatch, test_routes=ROUTES)

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_sleeps_on_the_loop _*",
            "a callback held the event loop for 100 ms or longer 1 time(s)*",
            "*blocked in:*",
            '*File "*test_routes.py", line *, in sleeps_on_the_loop (async)',
            "*time.sleep(0.3)*",
            "*FAILED test_routes.py::test_sleeps_on_the_loop*",
        ]
    )


KEPT = """
import gc
import weakref

guards = []


async def test_guarded(no_loop_stalls):
    guards.append(weakref.ref(no_loop_stalls))


def test_the_guard_is_gone_after_its_test():
    gc.collect()
    assert guards and guards[0]() is None
"""


def test_the_guard_is_not_kept_after_its_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard keeps the stalls, samples and last callback of its test; kept on the test's item, which
    lives until the session ends, they added up over two thousand tests and slowed every collection."""
    result = run_guarded(pytester, monkeypatch, test_kept=KEPT)

    result.assert_outcomes(passed=2)
