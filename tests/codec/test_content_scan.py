"""The leak scan's content check (tests/support/leak_scan.py) tells a plain history from an encrypted one."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    ActivityTaskFailedEventAttributes,
    History,
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from tests.support.codec_keys import TEST_DATA_CONVERTER
from tests.support.leak_scan import email_content, scan_email_content

SUBJECT = "Invoice 4711 overdue, final reminder"
BODY = "Dear customer, your invoice is overdue by thirty days."


async def history_with(converter: DataConverter, failure: Failure | None = None) -> History:
    payloads = await converter.encode_wrapper([{"subject": SUBJECT, "body": BODY}])
    events = [
        HistoryEvent(
            event_id=1,
            event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
                input=payloads
            ),
        )
    ]
    if failure is not None:
        events.append(
            HistoryEvent(
                event_id=2,
                event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
                activity_task_failed_event_attributes=ActivityTaskFailedEventAttributes(failure=failure),
            )
        )
    return History(events=events)


async def test_plain_payloads_are_found_as_stored() -> None:
    history = await history_with(pydantic_data_converter)
    for form in (history, WorkflowHistory("w", history.events).to_json()):
        scan = await scan_email_content(form, "plain", email_content(SUBJECT, BODY))
        assert {f.label for f in scan.stored} == {"the email's subject", "the email's body"}
        assert not scan.only_encrypted()


async def test_a_plain_failure_message_is_found_as_stored() -> None:
    history = await history_with(TEST_DATA_CONVERTER, Failure(message=f"cannot file {SUBJECT}"))
    scan = await scan_email_content(history, "plain failure", email_content(SUBJECT, BODY))
    assert {f.label for f in scan.stored} == {"the email's subject"}
    assert any(f.where.endswith("failure.message") for f in scan.stored), [str(f) for f in scan.stored]


async def test_encrypted_payloads_are_found_only_decoded() -> None:
    history = await history_with(TEST_DATA_CONVERTER)
    scan = await scan_email_content(history, "encrypted", email_content(SUBJECT, BODY))
    assert scan.only_encrypted()
    assert all("(codec-decoded)" in f.where for f in scan.decoded)
