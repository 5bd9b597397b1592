"""Incoming mail end to end: a recipe made through the API, mail delivered by the emulator, items on the
built-in board exactly once, and nothing read from folders the service must not read."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.history.v1 import HistoryEvent

from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, connected_mailbox, eventually
from tests.recipes.support import SUPPORT_BOARD as BOARD
from tests.recipes.support import recipe_body
from tests.replay.record import RECORD, write_histories
from tests.support import leak_scan
from tests.support.leak_scan import email_content, scan_email_content
from tests.support.temporal_cli import temporal_cli
from workflows.message import message_workflow_id


async def connected_with_recipe(stack: Stack) -> tuple[str, str, str, str]:
    """A connected mailbox with the issue's board and recipe: (mailbox, token, connection id, board id)."""
    email, token, connection_id = await connected_mailbox(stack)
    board = await api_call(stack, token, "POST", "/api/boards", json=BOARD)
    assert board.status_code == 201, board.text
    board_id = board.json()["id"]
    recipe = await api_call(stack, token, "POST", "/api/recipes", json=recipe_body(connection_id, board_id))
    assert recipe.status_code == 201, recipe.text
    return email, token, connection_id, board_id


async def deliver(stack: Stack, email: str, **message: Any) -> dict[str, Any]:
    async with stack.emulator_control() as control:
        r = await control.post(f"/_emulator/users/{email}/messages", json=message)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


async def items(stack: Stack, token: str, board_id: str) -> list[dict[str, Any]]:
    r = await api_call(stack, token, "GET", f"/api/boards/{board_id}/items")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["items"]
    return found


async def outcomes(stack: Stack, token: str, connection_id: str) -> list[dict[str, Any]]:
    r = await api_call(stack, token, "GET", f"/api/connections/{connection_id}/activity")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


async def check_designed_shape(stack: Stack, connection_id: str, message_id: str) -> None:
    """A processed message's workflow is a child of its connection's workflow and ran the steps by name."""
    handle = stack.env.client.get_workflow_handle(message_workflow_id(connection_id, message_id))
    description = await handle.describe()
    parent = description.raw_description.workflow_execution_info.parent_execution
    assert parent.workflow_id == f"connection/{connection_id}"
    assert description.search_attributes.get("ConnectionId") == [connection_id]
    steps = []
    async for event in handle.fetch_history_events():
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and marker.marker_name == "core_local_activity":
            steps.append(local_activity_type(event))
    assert steps == ["check_folder", "fetch_message", "filter_message", "create_item", "record_outcome"], (
        steps
    )


async def check_content_only_encrypted(stack: Stack, workflow_id: str) -> None:
    """What `temporal workflow show` prints of a processed message holds none of its subject or body;
    decoded through the codec, the same history does (the steps passed them, encrypted)."""
    shown = await temporal_cli(stack.env, "workflow", "show", "-w", workflow_id, "--output", "json")
    assert shown.count('"core_local_activity"') == 5  # the CLI printed the history and its five steps
    # Which of the three matching emails this message is does not matter: none may be readable.
    others = {f"subject {n}": f"Need help #{n}" for n in (1, 2)} | {f"body {n}": body_of(n) for n in (1, 2)}
    content = email_content("Need help #0", body_of(0), **others)
    scan = await scan_email_content(shown, f"{workflow_id} (temporal workflow show)", content)
    assert not scan.stored, "\n".join(map(str, scan.stored))
    assert scan.decoded, "the scan did not see the content through the codec"


def check_logs_hold_no_content(stack: Stack) -> None:
    """The service's log (JSON lines, as `make run` writes api.log and worker.log) names what happened
    to the emails and holds none of their subjects or bodies, in any encoding the leak scan knows."""
    lines = stack.log_path.read_text(errors="replace").splitlines()
    assert lines and all({"time", "level", "logger", "message"} <= json.loads(line).keys() for line in lines)
    content = email_content("Need help #0", body_of(0))
    for n in (1, 2):
        content.add(f"subject {n}", f"Need help #{n}")
        content.add(f"body {n}", body_of(n))
    canary = leak_scan.Secrets()
    canary.add("a line the scan must see", lines[-1][:40])
    blobs = leak_scan.file_blobs([stack.log_path])
    assert canary.find(blobs), "the scan did not read the log"
    leaks = content.find(blobs)
    assert not leaks, "\n".join(map(str, leaks))


def body_of(n: int) -> str:
    return f"Body {n}: the order 4711 arrived broken, please send a new one"


def local_activity_type(event: HistoryEvent) -> str:
    """The activity type a local activity's marker names (its `data` detail, which core writes as JSON)."""
    data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
    activity_type: str = json.loads(data)["activity_type"]
    return activity_type


async def test_matching_mail_becomes_items_once(stack: Stack) -> None:
    email, token, connection_id, board_id = await connected_with_recipe(stack)
    customer = {"name": "Grace", "address": "grace@customer.example"}
    for n in range(3):
        await deliver(stack, email, **{"from": customer, "subject": f"Need help #{n}", "body": body_of(n)})
    await deliver(stack, email, **{"from": "spam@elsewhere.example", "subject": "help me win", "body": "x"})
    await deliver(
        stack,
        email,
        **{
            "from": customer,
            "subject": "Automatic reply: help",
            "body": "I am away",
            "headers": {"Auto-Submitted": "auto-replied"},
        },
    )

    async def five_outcomes() -> list[dict[str, Any]] | None:
        found = await outcomes(stack, token, connection_id)
        return found if len(found) >= 5 else None

    logged = await eventually(five_outcomes, what="five outcomes in the activity log")
    made = await items(stack, token, board_id)
    assert sorted(i["name"] for i in made) == ["Need help #0", "Need help #1", "Need help #2"]
    assert all(i["columns"]["From"] == "grace@customer.example" for i in made)
    assert all(i["group"] == "New" for i in made)
    reasons = sorted(o["reason"] for o in logged if o["outcome"] == "skipped")
    # For a recipe that did not match, the log names the first condition that failed (not its value).
    assert reasons == ["automatic reply", "no recipe matched ('Support mail': from)"], logged
    # The log says what happened, never what the mail said.
    assert not any("help" in str(o).lower() for o in logged)
    processed = next(o["message_id"] for o in logged if o["outcome"] == "processed")
    await check_designed_shape(stack, connection_id, processed)
    await check_content_only_encrypted(stack, message_workflow_id(connection_id, processed))
    check_logs_hold_no_content(stack)
    if RECORD:
        await write_histories(stack.env.client, f"connection/{connection_id}", "connection-message-children")
        first = next(o["message_id"] for o in logged if o["outcome"] == "processed")
        await write_histories(
            stack.env.client, message_workflow_id(connection_id, first), "message-steps-processed"
        )
