"""`activity` and `messages retry|retry-failed` against the real API (the connection's workflow is a
recording stand-in: what the route hands it is checked)."""

from __future__ import annotations

import json

from temporalio.service import RPCError, RPCStatusCode

import activitylog
from tests.recipes.support import add_connection

# A Graph message id is about 150 characters; tables shorten it, --json never does.
LONG_ID = "AAMkAGI2TG93AAA=" + "x" * 130 + "+end="


def record_three(engine, connection_id: str) -> None:
    activitylog.record_outcome(engine, connection_id, "m-done", "processed", "1 recipe(s) matched", 1)
    activitylog.record_outcome(engine, connection_id, "m-skip", "skipped", "no recipe matched", 0)
    activitylog.record_outcome(
        engine,
        connection_id,
        LONG_ID,
        "failed",
        "1 recipe(s) failed",
        0,
        details=[
            {"recipe_id": "r1", "recipe": "Invoices", "result": "failed", "reason": "group New is gone"}
        ],
    )


async def test_activity_table_filter_limit_and_json(cli, engine, admin):
    connection_id = add_connection(engine, admin[0])
    empty = await cli("activity", connection_id)
    assert empty.code == 0 and empty.out == "No messages recorded for this connection yet.\n"

    record_three(engine, connection_id)
    table = await cli("activity", connection_id)
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["RECORDED", "DIRECTION", "OUTCOME", "ITEMS", "MESSAGE", "REASON"]
    assert len(lines) == 4
    failed_line = next(line for line in lines if " failed " in line)
    assert "1 recipe(s) failed; Invoices: group New is gone" in failed_line
    assert LONG_ID not in table.out and "AAMkAGI2TG93AAA" in failed_line and "…" in failed_line
    assert table.err == "Message ids are shortened; --json shows them whole.\n"

    only_failed = await cli("activity", connection_id, "--outcome", "failed", "--json")
    assert only_failed.code == 0
    page = json.loads(only_failed.out)
    assert page["count"] == 1 and page["data"][0]["message_id"] == LONG_ID
    assert page["data"][0]["recipes"][0]["reason"] == "group New is gone"

    one = json.loads((await cli("activity", connection_id, "--limit", "1", "--json")).out)
    assert one["count"] == 1
    skipped = await cli("activity", connection_id, "--outcome", "skipped", "--limit", "5")
    assert skipped.code == 0 and len(skipped.out.splitlines()) == 2 and " skipped " in skipped.out

    too_many = await cli("activity", connection_id, "--limit", "5000")
    assert too_many.code == 1
    assert too_many.err.startswith("error: query.limit: Input should be less than or equal to 1000")
    assert (await cli("activity", connection_id, "--limit", "0")).code == 2


async def test_retry_one_failed_message(cli, engine, admin, temporal):
    connection_id = add_connection(engine, admin[0])
    record_three(engine, connection_id)
    done = await cli("messages", "retry", connection_id, LONG_ID)
    assert done.code == 0, done.err
    assert done.out.startswith("Retrying 1 message")
    # The id reached the connection's workflow whole, through the escaped path segment.
    [(workflow_id, request)] = temporal.updates
    assert workflow_id == f"connection/{connection_id}" and request.message_ids == [LONG_ID]

    refused = await cli("messages", "retry", connection_id, "m-done")
    assert refused.code == 1 and refused.out == ""
    assert refused.err == "error: only a failed message is retried; its outcome is processed (HTTP 409)\n"
    assert len(temporal.updates) == 1


async def test_retry_failed_since(cli, engine, admin, temporal):
    connection_id = add_connection(engine, admin[0])
    record_three(engine, connection_id)
    activitylog.record_outcome(engine, connection_id, "m-fail-2", "failed", "graph unavailable", 0)

    done = await cli("messages", "retry-failed", connection_id, "--since", "1h", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out) == {"data": [LONG_ID, "m-fail-2"], "count": 2}
    assert temporal.updates[0][1].message_ids == [LONG_ID, "m-fail-2"]

    words = await cli("messages", "retry-failed", connection_id, "--since", "2d")
    assert words.code == 0 and words.out.startswith("Retrying 2 messages that failed since ")

    later = await cli("messages", "retry-failed", connection_id, "--since", "2999-01-01T01:00:00+01:00")
    assert later.code == 0
    assert later.out == "No message failed since 2999-01-01 00:00:00 UTC; nothing to retry.\n"

    no_zone = await cli("messages", "retry-failed", connection_id, "--since", "2026-12-06T18:00:00")
    assert no_zone.code == 2 and "has no time zone" in no_zone.err
    assert (await cli("messages", "retry-failed", connection_id, "--since", "yesterday")).code == 2
    assert (await cli("messages", "retry-failed", connection_id)).code == 2


async def test_retry_refusals_carry_the_apis_detail(cli, engine, admin, temporal):
    revoked = add_connection(engine, admin[0], mailbox="old@acme.example", status="revoked")
    answer = await cli("messages", "retry-failed", revoked, "--since", "1d")
    assert answer.code == 1 and answer.err == "error: the connection is revoked (HTTP 409)\n"

    connection_id = add_connection(engine, admin[0])
    record_three(engine, connection_id)
    temporal.fail = RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
    down = await cli("messages", "retry", connection_id, LONG_ID)
    assert down.code == 1
    assert down.err == "error: the workflow engine did not answer; try again (HTTP 503)\n"
    temporal.fail = RPCError("not found", RPCStatusCode.NOT_FOUND, b"")
    ended = await cli("messages", "retry", connection_id, LONG_ID)
    assert ended.code == 1 and ended.err == "error: the connection's workflow has ended (HTTP 409)\n"
