"""The client against the fake: each of monday.com's documented failures -> the right retry semantics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from boards.monday import queries
from boards.monday.api import MondayApi
from boards.monday.client import API_VERSION, MondayClient
from boards.monday.errors import (
    MondayError,
    MondayRateLimited,
    MondayRequestRejected,
    MondayTokenRefused,
    MondayUnavailable,
    retry_semantics,
)
from tests.support.monday_fake_server import RunningMondayFake
from tests.support.monday_fixtures import MONDAY_TOKEN


@pytest.fixture
async def http(monday_fake: RunningMondayFake) -> AsyncIterator[httpx.AsyncClient]:
    monday_fake.control("DELETE", "/faults")
    async with httpx.AsyncClient() as client:
        yield client
    monday_fake.control("DELETE", "/faults")


def api(http: httpx.AsyncClient, fake: RunningMondayFake, token: str = MONDAY_TOKEN) -> MondayApi:
    return MondayApi(MondayClient(http, fake.api_url, SecretStr(token)))


def as_activity_error(err: MondayError) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught, retry_semantics("test operation"):
        raise err
    return caught.value


async def test_a_call_sends_the_api_version_and_the_token(http, monday_fake) -> None:
    assert await api(http, monday_fake).me()
    last = monday_fake.requests()[-1]
    assert last["api_version"] == API_VERSION and last["authorized"] is True
    assert MONDAY_TOKEN not in str(monday_fake.requests())


@pytest.mark.parametrize(
    ("kind", "seconds"),
    [("complexity_budget", 37), ("complexity_exception", 3), ("rate_limit", 12)],
)
async def test_rate_limits_carry_monday_wait_to_temporal(http, monday_fake, kind, seconds) -> None:
    monday_fake.fault(kind, retry_in_seconds=seconds)
    with pytest.raises(MondayRateLimited) as caught:
        await api(http, monday_fake).me()
    assert caught.value.retry_after == seconds
    error = as_activity_error(caught.value)
    assert error.next_retry_delay == timedelta(seconds=seconds)
    assert not error.non_retryable
    # The fault was used up: the next call goes through.
    assert await api(http, monday_fake).me()


async def test_server_error_is_retried_with_backoff(http, monday_fake) -> None:
    monday_fake.fault("server_error")
    with pytest.raises(MondayUnavailable) as caught:
        await api(http, monday_fake).me()
    error = as_activity_error(caught.value)
    assert not error.non_retryable and error.next_retry_delay is None


@pytest.mark.parametrize("token", ["not-a-token-the-fake-knows-1234", ""])
async def test_a_refused_token_is_not_retried_and_says_so(http, monday_fake, token) -> None:
    with pytest.raises(MondayTokenRefused) as caught:
        await api(http, monday_fake, token).me()
    assert "token" in str(caught.value)
    error = as_activity_error(caught.value)
    assert error.non_retryable and error.type == "MondayTokenRefused"
    if token:
        assert token not in str(caught.value) and token not in str(error)


async def test_user_unauthorized_in_errors_is_a_refused_token(http, monday_fake) -> None:
    monday_fake.fault("user_unauthorized")
    with pytest.raises(MondayTokenRefused):
        await api(http, monday_fake).me()


async def test_an_invalid_document_is_refused_for_good(http, monday_fake) -> None:
    client = MondayClient(http, monday_fake.api_url, SecretStr(MONDAY_TOKEN))
    with pytest.raises(MondayRequestRejected) as caught:
        await client.execute("query { no_such_field }", {}, operation="bad")
    assert "GRAPHQL_VALIDATION_FAILED" in str(caught.value)
    assert as_activity_error(caught.value).non_retryable


async def test_an_unknown_board_is_refused_for_good(http, monday_fake) -> None:
    with pytest.raises(MondayRequestRejected):
        await api(http, monday_fake).create_item("999", "g", "x", {})


async def test_errors_do_not_echo_monday_messages(http, monday_fake) -> None:
    # monday.com's message may quote a column value (email content): only codes reach our errors.
    board = monday_fake.add_board("B", ["New"], [{"title": "N", "type": "numbers"}])
    with pytest.raises(MondayRequestRejected) as caught:
        await api(http, monday_fake).create_item(
            board["id"], board["groups"][0]["id"], "x", {"numbers_0": "secret-ish"}
        )
    assert "secret-ish" not in str(caught.value) and "ColumnValueException" in str(caught.value)


async def test_unreachable_monday_is_retryable(http) -> None:
    client = MondayClient(http, "http://127.0.0.1:9/v2", SecretStr(MONDAY_TOKEN))
    with pytest.raises(MondayUnavailable) as caught:
        await client.execute(queries.ME, {}, operation="verify")
    assert MONDAY_TOKEN not in str(caught.value)
    assert not as_activity_error(caught.value).non_retryable
