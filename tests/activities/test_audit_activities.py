"""Audit entries written by the worker's activities: a read of a connection's tokens names the activity
and its workflow run, and a revocation or disconnect is recorded once, in the status update's own
transaction (against OpenBao, the emulator and the application database, as tests/activities/ does)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from db.audit import AuditEntry
from db.engine import session_scope
from payloads.connection import ConnectionRef, ConnectionStatus, StatusRecord
from tests.activities.support import Mailbox, World
from vault.errors import TokenNotFound
from vault.models import StoredTokens


def audit_of(world: World, mailbox: Mailbox) -> list[AuditEntry]:
    with session_scope(world.engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.connection_id == uuid.UUID(mailbox.connection_id))
            .order_by(AuditEntry.id)
        ).all()
        session.expunge_all()
        return list(rows)


def in_workflow(activity_type: str, workflow_id: str, run_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, activity_type=activity_type, workflow_id=workflow_id, workflow_run_id=run_id
    )
    return env


async def test_a_token_read_names_the_activity_and_its_workflow_run(world: World) -> None:
    mailbox = await world.connect()
    workflow_id, run_id = f"connection/{mailbox.connection_id}", str(uuid.uuid4())
    ref = ConnectionRef(connection_id=mailbox.connection_id, mailbox=mailbox.email)

    await in_workflow("describe_tokens", workflow_id, run_id).run(world.connection.describe_tokens, ref)

    (entry,) = audit_of(world, mailbox)
    assert (entry.kind, entry.account_id, entry.actor_user_id) == ("token_read", mailbox.account_id, None)
    assert (entry.service, entry.workflow_id, entry.run_id) == (
        "activity describe_tokens",
        workflow_id,
        run_id,
    )
    assert entry.detail == ""

    # A refresh reads them too (and writes the new set): one more entry, by that activity.
    await in_workflow("refresh_tokens", workflow_id, run_id).run(world.connection.refresh_tokens, ref)
    assert [e.service for e in audit_of(world, mailbox)] == [
        "activity describe_tokens",
        "activity refresh_tokens",
    ]


async def test_a_revocation_and_a_disconnect_are_recorded_once_each(world: World) -> None:
    mailbox = await world.connect()
    workflow_id, run_id = f"connection/{mailbox.connection_id}", str(uuid.uuid4())
    env = in_workflow("record_connection_status", workflow_id, run_id)

    def record(status: ConnectionStatus, reason: str) -> StatusRecord:
        return StatusRecord(connection_id=mailbox.connection_id, status=status, status_reason=reason)

    # Recorded again (an activity retried after its commit): still one entry.
    for _ in range(2):
        await env.run(
            world.connection.record_connection_status, record(ConnectionStatus.REVOKED, "consent revoked")
        )
    await env.run(world.connection.record_connection_status, record(ConnectionStatus.ACTIVE, ""))
    await env.run(
        world.connection.record_connection_status,
        record(ConnectionStatus.DISCONNECTED, "disconnected by the user"),
    )

    entries = audit_of(world, mailbox)
    assert [(e.kind, e.detail) for e in entries] == [
        ("revoked", "consent revoked"),
        ("disconnected", "disconnected by the user"),
    ]
    assert {(e.service, e.workflow_id, e.run_id) for e in entries} == {
        ("activity record_connection_status", workflow_id, run_id)
    }


async def test_tokens_are_not_read_for_a_connection_without_a_row(world: World) -> None:
    """The audit entry is written before Vault is read: a connection with no row (nothing to file the
    entry under) has its tokens refused, though Vault holds them."""
    orphan = uuid.uuid4().hex
    mailbox = await world.connect()
    stored: StoredTokens = await world.tokens.load(mailbox.connection_id)
    assert await world.tokens.save(str(uuid.UUID(orphan)), stored)
    try:
        with pytest.raises(TokenNotFound):
            await world.tokens.load(str(uuid.UUID(orphan)))
    finally:
        await world.tokens.destroy(str(uuid.UUID(orphan)))
