"""`connections list|show|resync|disconnect|reconnect` against the real API."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from db.audit import AuditEntry
from db.connections import Connection
from db.engine import session_scope
from payloads.connection import LifecycleEvent
from tests.recipes.support import add_connection


def status_of(engine, connection_id: str) -> str:
    with session_scope(engine) as session:
        return session.get_one(Connection, uuid.UUID(connection_id)).status


async def test_list_as_a_table_and_as_json(cli, engine, admin):
    empty = await cli("connections", "list")
    assert empty.code == 0
    assert empty.out.strip() == "No connections yet. Connect a mailbox at http://testserver/connections"

    first = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    second = add_connection(engine, admin[0], mailbox="old@contoso.test", status="revoked")
    table = await cli("connections", "list")
    assert table.code == 0 and table.err == ""
    lines = table.out.splitlines()
    assert lines[0].split() == ["ID", "MAILBOX", "STATUS", "LAST", "NOTIFICATION", "SUBSCRIPTION", "EXPIRES"]
    assert len(lines) == 3
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    assert rows["ada@contoso.test"][:3] == [first, "ada@contoso.test", "active"]
    assert rows["old@contoso.test"][:3] == [second, "old@contoso.test", "revoked"]

    # --json before or after the command: the API's own answer.
    for argv in (("--json", "connections", "list"), ("connections", "list", "--json")):
        answer = await cli(*argv)
        assert answer.code == 0
        page = json.loads(answer.out)
        assert page["count"] == 2 and {c["id"] for c in page["data"]} == {first, second}


async def test_show_and_a_missing_connection(cli, engine, admin):
    connection_id = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    shown = await cli("connections", "show", connection_id)
    assert shown.code == 0
    assert f"ID:                   {connection_id}" in shown.out
    assert "Status:               active" in shown.out
    assert "Permissions:          User.Read, Mail.Read" in shown.out
    assert "Subscription expires: -" in shown.out

    missing = await cli("connections", "show", "00000000-0000-0000-0000-000000000001")
    assert missing.code == 1 and missing.out == ""
    assert missing.err == "error: connection not found (HTTP 404)\n"


async def test_disconnect_asks_first(cli, engine, admin, temporal):
    connection_id = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    refused = await cli("connections", "disconnect", connection_id, stdin="n\n")
    assert refused.code == 1
    assert f"Disconnect ada@contoso.test ({connection_id})?" in refused.err
    assert "Not disconnected (pass --yes" in refused.err
    no_input = await cli("connections", "disconnect", connection_id, stdin="")
    assert no_input.code == 1
    assert temporal.started == [] and status_of(engine, connection_id) == "active"

    done = await cli("connections", "disconnect", connection_id, stdin="yes\n")
    assert done.code == 0, done.err
    assert done.out.startswith("Disconnect requested for ada@contoso.test")
    # The route signalled-with-start the connection's workflow with the disconnect, and audited it.
    assert len(temporal.started) == 1 and temporal.started[0]["start_signal"] == "disconnect"
    with session_scope(engine) as session:
        kinds = session.scalars(select(AuditEntry.kind)).all()
    assert "disconnect_requested" in kinds

    audit = await cli("audit", "--connection", connection_id)
    assert audit.code == 0 and "disconnect_requested" in audit.out


async def test_disconnect_with_yes_and_when_already_done(cli, engine, admin, temporal):
    connection_id = add_connection(engine, admin[0])
    done = await cli("connections", "disconnect", connection_id, "--yes", "--json")
    assert done.code == 0 and done.err == ""
    assert json.loads(done.out)["id"] == connection_id
    assert len(temporal.started) == 1

    gone = add_connection(engine, admin[0], mailbox="gone@acme.example", status="disconnected")
    again = await cli("connections", "disconnect", gone)
    assert again.code == 0 and again.out == "gone@acme.example is already disconnected.\n"
    assert len(temporal.started) == 1


async def test_disconnect_when_the_workflow_engine_does_not_answer(cli, engine, admin, temporal):
    temporal.fail = RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
    connection_id = add_connection(engine, admin[0])
    answer = await cli("connections", "disconnect", connection_id, "--yes")
    assert answer.code == 1 and answer.out == ""
    assert answer.err == "error: the workflow engine did not answer; try again (HTTP 503)\n"


async def test_reconnect_of_a_disconnected_connection_is_refused(cli, engine, admin):
    gone = add_connection(engine, admin[0], status="disconnected")
    answer = await cli("connections", "reconnect", gone)
    assert answer.code == 1
    assert answer.err == "error: a disconnected connection cannot be reconnected (HTTP 409)\n"


async def test_resync_asks_the_workflow_to_catch_up(cli, engine, admin, temporal):
    connection_id = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    done = await cli("connections", "resync", connection_id)
    assert done.code == 0 and done.err == ""
    assert done.out.splitlines() == [
        "Catch-up requested for ada@contoso.test: the connection re-reads its mailbox now and processes "
        "every message it missed.",
        f"`activity {connection_id}` shows what became of each message.",
    ]
    # The `missed` lifecycle signal, as the webhook forwarder sends it for Graph's own notice.
    assert [(w, arg) for w, _signal, arg in temporal.signals] == [
        (f"connection/{connection_id}", LifecycleEvent.MISSED)
    ]
    audit = await cli("audit", "--connection", connection_id)
    assert audit.code == 0 and "resync_requested" in audit.out

    as_json = await cli("connections", "resync", connection_id, "--json")
    assert as_json.code == 0
    answer = json.loads(as_json.out)
    assert answer["id"] == connection_id and answer["requested"] == "missed" and answer["status"] == "active"
    assert len(temporal.signals) == 2


async def test_resync_refused_and_unanswered(cli, engine, admin, temporal):
    gone = add_connection(engine, admin[0], status="disconnected")
    refused = await cli("connections", "resync", gone)
    assert refused.code == 1 and refused.out == ""
    assert refused.err == (
        "error: a disconnected connection cannot catch up; connect the mailbox again (HTTP 409)\n"
    )
    revoked = add_connection(engine, admin[0], mailbox="old@contoso.test", status="revoked")
    refused = await cli("connections", "resync", revoked)
    assert refused.code == 1 and "revoked" in refused.err and "(HTTP 409)" in refused.err
    assert temporal.signals == []

    temporal.fail = RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
    active = add_connection(engine, admin[0], mailbox="ada@contoso.test")
    down = await cli("connections", "resync", active)
    assert down.code == 1 and down.out == ""
    assert down.err == "error: the workflow engine did not answer; try again (HTTP 503)\n"

    usage = await cli("connections", "resync", "42")
    assert usage.code == 2 and "not a connection id" in usage.err
