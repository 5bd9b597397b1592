"""On a real Temporal dev server: an email's content in payloads and in failures (message and stack
trace) is stored encrypted, so `temporal workflow show` prints none of it, and it decodes with the
converter."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.codec_keys import TEST_CODEC, TEST_DATA_CONVERTER
from tests.support.leak_scan import Blob, Secrets, email_content, expand, scan_email_content
from tests.support.temporal_cli import temporal_cli

SUBJECT = "Secret subject: the Contoso merger"
BODY = "Please keep the merger terms below between us until Friday."


@activity.defn(name="codec_test_read_subject")
async def read_subject(email: dict[str, str]) -> str:
    return email["subject"]


@activity.defn(name="codec_test_refuse")
async def refuse(subject: str) -> None:
    raise ApplicationError(f"cannot file {subject!r}", {"subject": subject}, non_retryable=True)


@workflow.defn(name="CodecTestEmail", sandboxed=False)
class EmailWorkflow:
    @workflow.run
    async def run(self, email: dict[str, str]) -> None:
        timeout = timedelta(seconds=30)
        subject = await workflow.execute_activity(read_subject, email, start_to_close_timeout=timeout)
        await workflow.execute_activity(
            refuse, subject, start_to_close_timeout=timeout, retry_policy=RetryPolicy(maximum_attempts=1)
        )


@pytest.fixture(scope="module")
async def failed_run(temporal_env: WorkflowEnvironment) -> tuple[str, WorkflowHistory]:
    client = temporal_env.client
    queue = f"codec-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[EmailWorkflow], activities=[read_subject, refuse]):
        email = {"subject": SUBJECT, "body": BODY}
        handle = await client.start_workflow(
            EmailWorkflow.run, email, id=f"codec/{uuid.uuid4()}", task_queue=queue
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    # The client's converter decodes the failure chain: workflow -> activity -> application error.
    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError) and SUBJECT in cause.message
    assert cause.details == ({"subject": SUBJECT},)
    return handle.id, await handle.fetch_history()


def content() -> Secrets:
    return email_content(SUBJECT, BODY)


async def test_payloads_and_failures_are_stored_encrypted(failed_run: tuple[str, WorkflowHistory]) -> None:
    workflow_id, history = failed_run
    as_json = history.to_json()
    assert SUBJECT not in as_json and "merger" not in as_json
    scan = await scan_email_content(history, workflow_id, content())
    assert not scan.stored, "\n".join(map(str, scan.stored))
    # The content is there, encrypted: input, activity input and result, failure message and details.
    where = {finding.where for finding in scan.decoded}
    assert any("workflow_execution_started_event_attributes.input" in w for w in where), where
    assert any("activity_task_completed_event_attributes.result" in w for w in where), where
    assert any("failure.encoded_attributes" in w for w in where), where
    assert any("application_failure_info.details" in w for w in where), where


async def test_the_failure_message_and_stack_trace_decode_with_the_converter(
    failed_run: tuple[str, WorkflowHistory],
) -> None:
    _, history = failed_run
    [event] = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]
    failure = event.activity_task_failed_event_attributes.failure
    # What Temporal stores (and shows) in plain text: a placeholder and no stack trace.
    assert failure.message == "Encoded failure"
    assert failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == b"binary/encrypted"
    error = await TEST_DATA_CONVERTER.decode_failure(failure)
    assert isinstance(error, ApplicationError)
    assert error.message == f"cannot file {SUBJECT!r}"
    # The stack trace is inside the encrypted attributes: decoded, it names the activity that raised.
    decoded = Failure()
    decoded.CopyFrom(failure)
    await TEST_CODEC.decode_failure(decoded)
    attributes = json.loads(decoded.encoded_attributes.data)
    assert attributes["message"] == f"cannot file {SUBJECT!r}"
    assert "async def refuse" in attributes["stack_trace"] or "in refuse" in attributes["stack_trace"]


async def test_temporal_workflow_show_prints_none_of_the_email(
    temporal_env: WorkflowEnvironment, failed_run: tuple[str, WorkflowHistory]
) -> None:
    workflow_id, _ = failed_run
    as_json = await temporal_cli(temporal_env, "workflow", "show", "-w", workflow_id, "--output", "json")
    assert "codec_test_refuse" in as_json  # the CLI did print the history
    scan = await scan_email_content(as_json, f"{workflow_id} (CLI JSON)", content())
    assert not scan.stored, "\n".join(map(str, scan.stored))
    assert scan.decoded  # the same text, decoded, holds the email: the scan reads what the CLI printed
    as_text = await temporal_cli(temporal_env, "workflow", "show", "-w", workflow_id, "--detailed")
    assert "codec_test_refuse" in as_text
    found = content().find(expand([Blob("CLI text", as_text.encode())]))
    assert not found, "\n".join(map(str, found))
