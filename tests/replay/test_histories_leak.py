"""No recorded history carries a secret into git, and the leak scanner really finds secrets in histories.

The committed histories were recorded in other runs, so their tokens are unknown here: they are searched
for anything shaped like a secret (a JWT, a Microsoft or emulator refresh token or auth code, a client
secret, a Vault token, a clientState, a field named like a secret). The scanner's own tests plant known
secrets in every place a history carries a payload, in a built history and in a real one from the
Temporal dev server, and check the scanner names each place.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Header, Memo, Payload, Payloads, SearchAttributes
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskFailedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    History,
    HistoryEvent,
    MarkerRecordedEventAttributes,
    WorkflowExecutionCompletedEventAttributes,
    WorkflowExecutionContinuedAsNewEventAttributes,
    WorkflowExecutionSignaledEventAttributes,
    WorkflowExecutionStartedEventAttributes,
    WorkflowExecutionUpdateCompletedEventAttributes,
)
from temporalio.api.sdk.v1 import UserMetadata
from temporalio.api.update.v1 import Outcome
from temporalio.client import WorkflowHistory
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.leak_scan import (
    Finding,
    Secrets,
    history_blobs,
    read_history_text,
    recorded_histories,
    secret_shapes,
)
from workflows import search_attributes as sa

HISTORIES = recorded_histories(Path(__file__).parent / "histories")


async def shapes_in(history: WorkflowHistory | History | str, name: str) -> list[Finding]:
    return secret_shapes(await history_blobs(history, name))


# ----- the committed histories -----------------------------------------------------------------------


@pytest.mark.parametrize("path", HISTORIES, ids=[p.name for p in HISTORIES])
async def test_recorded_history_holds_nothing_shaped_like_a_secret(path: Path) -> None:
    found = await shapes_in(read_history_text(path), path.name)
    assert not found, "\n".join(map(str, found))


# ----- the scanner finds secrets in every place a history carries a payload -------------------------


def payloads(value: Any) -> Payloads:
    return Payloads(payloads=pydantic_data_converter.payload_converter.to_payloads([value]))


def payload(value: Any) -> Payload:
    return payloads(value).payloads[0]


def started(**attributes: Any) -> HistoryEvent:
    return HistoryEvent(
        event_id=1,
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(**attributes),
    )


def failed_activity(failure: Failure) -> HistoryEvent:
    return HistoryEvent(
        event_id=7,
        event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        activity_task_failed_event_attributes=ActivityTaskFailedEventAttributes(failure=failure),
    )


def application_failure(details: Any) -> Failure:
    return Failure(
        message="refused", application_failure_info=ApplicationFailureInfo(details=payloads(details))
    )


# Each builds the events of a history that carries `value` in one place; the string is what the
# finding's location must name.
PLACES: dict[str, tuple[Callable[[Any], list[HistoryEvent]], str]] = {
    "workflow input": (lambda v: [started(input=payloads({"connection_id": v}))], "input.payloads[0]"),
    "memo": (lambda v: [started(memo=Memo(fields={"note": payload(v)}))], "memo.fields[note]"),
    "search attribute": (
        lambda v: [started(search_attributes=SearchAttributes(indexed_fields={"Mailbox": payload(v)}))],
        "indexed_fields[Mailbox]",
    ),
    "header": (lambda v: [started(header=Header(fields={"auth": payload(v)}))], "header.fields[auth]"),
    "user metadata": (
        lambda v: [HistoryEvent(event_id=1, user_metadata=UserMetadata(details=payload(v)))],
        "user_metadata.details",
    ),
    "signal input": (
        lambda v: [
            HistoryEvent(
                event_id=5,
                event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
                workflow_execution_signaled_event_attributes=WorkflowExecutionSignaledEventAttributes(
                    signal_name="reconnected", input=payloads([1, {"nested": [v]}])
                ),
            )
        ],
        "workflow_execution_signaled_event_attributes.input",
    ),
    "activity input": (
        lambda v: [
            HistoryEvent(
                event_id=5,
                activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
                    input=payloads(v)
                ),
            )
        ],
        "activity_task_scheduled_event_attributes.input",
    ),
    "activity result": (
        lambda v: [
            HistoryEvent(
                event_id=6,
                activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
                    result=payloads({"tokens": {"value": v}})
                ),
            )
        ],
        "activity_task_completed_event_attributes.result",
    ),
    "failure details": (
        lambda v: [failed_activity(application_failure(v))],
        "failure.application_failure_info.details",
    ),
    "failure cause's details": (
        lambda v: [failed_activity(Failure(message="outer", cause=application_failure({"why": v})))],
        "failure.cause.application_failure_info.details",
    ),
    "failure encoded attributes": (
        lambda v: [failed_activity(Failure(message="Encoded failure", encoded_attributes=payload(v)))],
        "failure.encoded_attributes",
    ),
    "failure message": (lambda v: [failed_activity(Failure(message=f"refused {v}"))], "failure.message"),
    "marker details": (
        lambda v: [
            HistoryEvent(
                event_id=8,
                marker_recorded_event_attributes=MarkerRecordedEventAttributes(
                    marker_name="core_local_activity", details={"data": payloads(v)}
                ),
            )
        ],
        "details[data]",
    ),
    "update result": (
        lambda v: [
            HistoryEvent(
                event_id=9,
                workflow_execution_update_completed_event_attributes=(
                    WorkflowExecutionUpdateCompletedEventAttributes(outcome=Outcome(success=payloads(v)))
                ),
            )
        ],
        "outcome.success",
    ),
    "continue-as-new input": (
        lambda v: [
            HistoryEvent(
                event_id=10,
                workflow_execution_continued_as_new_event_attributes=(
                    WorkflowExecutionContinuedAsNewEventAttributes(input=payloads({"state": {"s": v}}))
                ),
            )
        ],
        "workflow_execution_continued_as_new_event_attributes.input",
    ),
    "continue-as-new memo": (
        lambda v: [
            HistoryEvent(
                event_id=10,
                workflow_execution_continued_as_new_event_attributes=(
                    WorkflowExecutionContinuedAsNewEventAttributes(memo=Memo(fields={"m": payload(v)}))
                ),
            )
        ],
        "workflow_execution_continued_as_new_event_attributes.memo",
    ),
    "workflow result": (
        lambda v: [
            HistoryEvent(
                event_id=11,
                workflow_execution_completed_event_attributes=WorkflowExecutionCompletedEventAttributes(
                    result=payloads(v)
                ),
            )
        ],
        "workflow_execution_completed_event_attributes.result",
    ),
}


def a_token() -> str:
    """Shaped like the emulator's refresh tokens, so the shape scan must see it too."""
    return "1.AXkA" + secrets.token_urlsafe(60)


def known(label: str, value: str) -> Secrets:
    found = Secrets()
    found.add(label, value)
    return found


@pytest.mark.parametrize("place", PLACES)
async def test_a_secret_in_any_payload_is_found_where_a_text_search_misses_it(place: str) -> None:
    build, location = PLACES[place]
    token = a_token()
    history = History(events=build(token))
    as_json = WorkflowHistory("w", history.events).to_json()
    assert token not in as_json or place == "failure message"  # why the JSON text alone is not enough

    for form in (history, as_json):  # a history from the server, and one read back from a file
        found = known("the planted token", token).find(await history_blobs(form, "planted"))
        assert found, f"the scanner missed a token in the {place}"
        assert any(location in f.where for f in found), [str(f) for f in found]
        assert {f.label for f in found} == {"the planted token"}
        shapes = await shapes_in(form, "planted")
        assert any("refresh token" in f.label for f in shapes), [str(f) for f in shapes]

    clean = History(events=build("nothing secret here"))
    assert not known("the planted token", token).find(await history_blobs(clean, "clean"))
    assert not await shapes_in(clean, "clean")


@pytest.mark.parametrize(
    ("form", "encode"),
    [
        ("standard base64", lambda s: base64.b64encode(s.encode()).decode()),
        ("URL-safe base64", lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")),
        ("base64, one byte in", lambda s: base64.b64encode(b"x" + s.encode()).decode()),
        ("base64, two bytes in", lambda s: base64.b64encode(b"xy" + s.encode()).decode()),
        ("base64 of base64", lambda s: base64.b64encode(base64.b64encode(s.encode())).decode()),
        ("base64 of JSON", lambda s: base64.b64encode(json.dumps({"t": s}).encode()).decode()),
        ("in a sentence", lambda s: f"Authorization: Bearer {s}; expired"),
        ("in a URL", lambda s: f"https://x.example/cb?code={s}&state=1"),
    ],
)
async def test_an_encoded_secret_inside_a_payload_is_found(form: str, encode: Callable[[str], str]) -> None:
    token = "e2e-client-secret-" + uuid.uuid4().hex  # no token shape: only the known value finds it
    history = History(events=[started(input=payloads({"blob": encode(token)}))])
    found = known("the client secret", token).find(await history_blobs(history, "planted"))
    assert found and all(f.label == "the client secret" for f in found), form
    assert any("input.payloads[0]" in f.where for f in found), [str(f) for f in found]


async def test_the_finding_message_names_the_secret_without_showing_it() -> None:
    token = a_token()
    history = History(events=[started(input=payloads(token))])
    found = known("refresh token #3", token).find(await history_blobs(history, "connection/abc run 1"))
    message = "\n".join(map(str, found))
    assert "refresh token #3" in message and "connection/abc run 1" in message
    assert token not in message


def test_a_secret_too_short_to_search_for_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        Secrets().add("a role id", "abc")


# ----- a secret planted in a committed history is caught by the shape scan --------------------------


def client_state() -> str:
    while True:  # secrets.token_urlsafe(48), as the service makes it; mixed case and digits
        value = secrets.token_urlsafe(48)
        if any(c.isdigit() for c in value) and value.lower() != value and value.upper() != value:
            return value


def jwt() -> str:
    def part(claims: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    header = part({"typ": "JWT", "alg": "RS256", "kid": "emulator"})
    return f"{header}.{part({'aud': 'https://graph.microsoft.com', 'upn': 'ada@contoso.test'})}.sig_nature"


SHAPED: dict[str, Callable[[], Any]] = {
    "JWT": jwt,
    "Microsoft refresh token or auth code": a_token,
    "Microsoft account refresh token": lambda: "M.C510_BAY.-" + secrets.token_urlsafe(40),
    "Entra ID client secret": lambda: "abc8Q~" + secrets.token_urlsafe(26)[:34],
    "test client secret": lambda: "e2e-client-secret-" + uuid.uuid4().hex,
    "Vault token": lambda: "s." + secrets.token_hex(12),
    "clientState": client_state,
    "field named 'clientState'": lambda: {"clientState": "short-but-named"},
}


def plant_in_first_input(text: str, value: Any) -> str:
    """The history with `value` added to its first event's input (a real payload, re-encoded)."""
    history = json.loads(text)
    started_event = history["events"][0]["workflowExecutionStartedEventAttributes"]
    first = started_event["input"]["payloads"][0]
    data = json.loads(base64.b64decode(first["data"]))
    data = {**data, "note": value} if isinstance(data, dict) else {"input": data, "note": value}
    first["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    return json.dumps(history)


@pytest.mark.parametrize("kind", SHAPED)
async def test_a_secret_planted_in_a_recorded_history_is_found(kind: str) -> None:
    assert HISTORIES, "no recorded histories to plant in"
    # Recorded before the payload codec: its payloads are plain JSON, so a value can be planted in one.
    text = read_history_text(Path(__file__).parent / "histories" / "connection-lifecycle-run1.json")
    value = SHAPED[kind]()
    found = await shapes_in(plant_in_first_input(text, value), "planted")
    assert found, f"a {kind} planted in a recorded history was not found"
    assert any("input.payloads[0]" in f.where for f in found), [str(f) for f in found]


# ----- a real history from the Temporal dev server ---------------------------------------------------


@activity.defn(name="leak_scan_echo")
async def echo(value: str) -> str:
    return value


@activity.defn(name="leak_scan_refuse")
async def refuse(value: str) -> None:
    raise ApplicationError("refused", {"why": value}, non_retryable=True)


@workflow.defn(name="LeakScanThrowaway", sandboxed=False)
class Throwaway:
    """Carries each secret it is given in a different place of its history."""

    def __init__(self) -> None:
        self.signalled = ""

    @workflow.signal
    def note(self, value: str) -> None:
        self.signalled = value

    @workflow.run
    async def run(self, carried: dict[str, str]) -> str:
        timeout = timedelta(seconds=30)
        await workflow.execute_activity(echo, carried["activity"], start_to_close_timeout=timeout)
        try:
            await workflow.execute_activity(refuse, carried["failure"], start_to_close_timeout=timeout)
        except ActivityError:
            pass
        await workflow.wait_condition(lambda: bool(self.signalled))
        return base64.b64encode(carried["result"].encode()).decode()


async def test_secrets_in_a_real_history_are_found_in_each_place(temporal_env: WorkflowEnvironment) -> None:
    client = temporal_env.client
    values = {place: a_token() for place in ("activity", "failure", "result", "memo", "search", "signal")}
    task_queue = f"leak-scan-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Throwaway], activities=[echo, refuse]):
        handle = await client.start_workflow(
            Throwaway.run,
            {k: values[k] for k in ("activity", "failure", "result")},
            id=f"leak-scan/{uuid.uuid4()}",
            task_queue=task_queue,
            memo={"note": values["memo"]},
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.MAILBOX, values["search"])]),
        )
        await handle.signal(Throwaway.note, values["signal"])
        await handle.result()
    history = await handle.fetch_history()
    assert not any(v in history.to_json() for v in values.values())  # the old text scan saw nothing

    planted = Secrets()
    for place, value in values.items():
        planted.add(place, value)
    found = planted.find(await history_blobs(history, handle.id))
    where: dict[str, list[str]] = {}
    for finding in found:
        where.setdefault(finding.label, []).append(finding.where)

    def seen(label: str, location: str) -> bool:
        return any(location in w for w in where.get(label, []))

    assert seen("activity", "activity_task_scheduled_event_attributes.input"), where
    assert seen("activity", "activity_task_completed_event_attributes.result"), where
    assert seen("failure", "failure.application_failure_info.details"), where
    assert seen("result", "workflow_execution_started_event_attributes.input"), where
    assert seen("result", "workflow_execution_completed_event_attributes.result"), where  # as base64
    assert seen("memo", "memo.fields[note]"), where
    assert seen("search", "indexed_fields[Mailbox]"), where
    assert seen("signal", "workflow_execution_signaled_event_attributes.input"), where
    assert await shapes_in(history, handle.id)
