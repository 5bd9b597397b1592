"""`POST /api/connections/{id}/resync` (real SQLite, a Temporal stand-in that records the signals it is
sent): the owner's active connection is sent the `missed` lifecycle event, the signal Graph's own `missed`
notice becomes; anyone else is told it does not exist; a connection that cannot read mail is a 409 that
says why; an unreachable engine a 503. Each accepted request is audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from db.audit import AuditEntry
from db.engine import session_scope
from payloads.connection import LifecycleEvent
from tests.api.conftest import bearer
from tests.recipes.support import add_connection
from workflows.connection import ConnectionWorkflow


class SignalRecorder:
    """Remembers (workflow id, signal, argument); with `fail`, raises it instead, as the SDK does."""

    def __init__(self) -> None:
        self.fail: BaseException | None = None
        self.signals: list[tuple[str, Any, Any]] = []

    def get_workflow_handle(self, workflow_id: str, **options: Any) -> Any:
        outer = self

        class Handle:
            async def signal(self, signal: Any, arg: Any = None, **kwargs: Any) -> None:
                if outer.fail is not None:
                    raise outer.fail
                outer.signals.append((workflow_id, signal, arg))

        return Handle()


@pytest.fixture
def temporal(app) -> SignalRecorder:
    recorder = SignalRecorder()
    app.state.temporal_client = recorder
    return recorder


def audit_kinds(engine, connection_id: str) -> list[str]:
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.connection_id == uuid.UUID(connection_id))
        ).all()
        return [r.kind for r in rows]


async def test_the_owner_asks_for_a_catch_up(client, admin, engine, temporal):
    connection_id = add_connection(engine, admin[0], mailbox="ada@acme.example")
    r = await client.post(f"/api/connections/{connection_id}/resync", headers=bearer(admin[1]))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["id"] == connection_id and body["mailbox"] == "ada@acme.example"
    assert body["status"] == "active" and body["requested"] == "missed"
    assert "processes every message it missed" in body["detail"]
    # Exactly the signal the webhook forwarder sends for Graph's `missed`.
    assert temporal.signals == [
        (f"connection/{connection_id}", ConnectionWorkflow.lifecycle, LifecycleEvent.MISSED)
    ]
    assert audit_kinds(engine, connection_id) == ["resync_requested"]
    with session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.kind == "resync_requested")).one()
        assert entry.actor_user_id == admin[0]
        assert entry.service == f"api POST /api/connections/{connection_id}/resync"

    # The audit API lists it for the owner, also when asked for that kind.
    r = await client.get(
        "/api/audit",
        params={"connection_id": connection_id, "kind": "resync_requested"},
        headers=bearer(admin[1]),
    )
    assert r.status_code == 200 and [e["kind"] for e in r.json()["data"]] == ["resync_requested"]


async def test_another_user_is_told_it_does_not_exist(client, admin, member, stranger, engine, temporal):
    connection_id = add_connection(engine, admin[0])
    for user in (member, stranger):
        r = await client.post(f"/api/connections/{connection_id}/resync", headers=bearer(user[1]))
        assert r.status_code == 404 and r.json() == {"detail": "connection not found"}
    assert (await client.post(f"/api/connections/{connection_id}/resync")).status_code == 401
    missing = f"/api/connections/{uuid.uuid4()}/resync"
    assert (await client.post(missing, headers=bearer(admin[1]))).status_code == 404
    r = await client.post("/api/connections/not-a-uuid/resync", headers=bearer(admin[1]))
    assert r.status_code == 422
    assert temporal.signals == [] and audit_kinds(engine, connection_id) == []


@pytest.mark.parametrize(
    ("status", "scopes", "says"),
    [
        ("disconnected", "User.Read Mail.Read", "a disconnected connection cannot catch up"),
        ("revoked", "User.Read Mail.Read", "the connection is revoked and reads no mail; reconnect it first"),
        ("invalid", "User.Read Mail.Read", "the connection is invalid and reads no mail"),
        ("active", "User.Read Mail.Send", "this connection only sends mail"),
    ],
)
async def test_a_connection_that_reads_no_mail_is_a_409(
    client, admin, engine, temporal, status, scopes, says
):
    connection_id = add_connection(engine, admin[0], status=status, scopes=scopes)
    r = await client.post(f"/api/connections/{connection_id}/resync", headers=bearer(admin[1]))
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith(says)
    assert temporal.signals == [] and audit_kinds(engine, connection_id) == []


async def test_a_connecting_connection_catches_up_once_active(client, admin, engine, temporal):
    connection_id = add_connection(engine, admin[0], status="connecting")
    r = await client.post(f"/api/connections/{connection_id}/resync", headers=bearer(admin[1]))
    assert r.status_code == 202
    assert (
        r.json()["detail"] == "the connection is connecting: it re-reads its mailbox as soon as it is active"
    )
    assert len(temporal.signals) == 1


async def test_when_temporal_does_not_answer_or_the_workflow_is_gone(client, admin, engine, temporal):
    connection_id = add_connection(engine, admin[0])
    url = f"/api/connections/{connection_id}/resync"
    temporal.fail = RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")
    r = await client.post(url, headers=bearer(admin[1]))
    assert r.status_code == 503
    assert r.json() == {"detail": "the workflow engine did not answer; try again"}

    temporal.fail = RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
    r = await client.post(url, headers=bearer(admin[1]))
    assert r.status_code == 409
    assert r.json()["detail"] == "the connection's workflow is not running; reconnect it to start it again"
    # Nothing was asked of the workflow, so nothing is audited.
    assert audit_kinds(engine, connection_id) == []
