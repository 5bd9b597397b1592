"""GET /api/audit (who sees which entries, filters, pages), entries written in the audited change's own
transaction, the codec server's decodes audited, and a token read from the API named by its user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from temporalio.api.common.v1 import Payload

from audit.context import Actor, begin_request, end_request, set_request_user
from audit.record import Kind, TokenReads, add, record_permission_change
from codec.aes_gcm import EncryptionCodec
from codec.keyring import Keyring
from db.accounts import User
from db.audit import AuditEntry
from db.connections import Connection
from db.engine import session_scope
from tests.api.conftest import bearer
from tests.api.test_codec_server import from_wire, plain_payload, wire
from vault.errors import TokenNotFound


def new_connection(engine: Engine, owner_id: uuid.UUID, mailbox: str) -> uuid.UUID:
    with session_scope(engine) as session:
        owner = session.get_one(User, owner_id)
        row = Connection(account_id=owner.account_id, owner_id=owner.id, mailbox=mailbox, status="active")
        session.add(row)
        session.flush()
        return row.id


def account_of(engine: Engine, user_id: uuid.UUID) -> uuid.UUID:
    with session_scope(engine) as session:
        return session.get_one(User, user_id).account_id


def write(engine: Engine, user_id: uuid.UUID, kind: Kind, actor: Actor, **fields: Any) -> int:
    with session_scope(engine) as session:
        entry = add(session, account_of(engine, user_id), kind, actor, **fields)
        session.flush()
        return entry.id


def entries(engine: Engine) -> list[AuditEntry]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        session.expunge_all()
        return list(rows)


@pytest.fixture
def world(engine, admin, member, stranger) -> dict[str, Any]:
    """Entries of two accounts: the member's connection read by a workflow and reconnected by the
    member, the admin's own connection read, an admin's permission change, and another account's."""
    mine = new_connection(engine, member[0], "member@contoso.test")
    admins = new_connection(engine, admin[0], "admin@contoso.test")
    theirs = new_connection(engine, stranger[0], "stranger@contoso.test")
    service = Actor(service="activity refresh_tokens", workflow_id=f"connection/{mine}", run_id="run-1")
    ids = {
        "member read": write(engine, member[0], Kind.TOKEN_READ, service, connection_id=mine),
        "member reconnect": write(
            engine, member[0], Kind.RECONNECT, Actor(user_id=member[0]), connection_id=mine
        ),
        "admin read": write(
            engine, admin[0], Kind.TOKEN_READ, Actor(service="activity x"), connection_id=admins
        ),
        "permission": write(
            engine, admin[0], Kind.PERMISSION_CHANGE, Actor(user_id=admin[0]), detail="everyone -> admins"
        ),
        "stranger read": write(
            engine, stranger[0], Kind.TOKEN_READ, Actor(service="s"), connection_id=theirs
        ),
    }
    return {"mine": mine, "admins": admins, "theirs": theirs, "ids": ids}


async def listed(client, token: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/audit", params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    data: list[dict[str, Any]] = body["data"]
    return data


async def test_admins_see_their_account_newest_first(client, admin, world):
    ids = world["ids"]
    data = await listed(client, admin[1])
    assert [e["id"] for e in data] == [
        ids["permission"],
        ids["admin read"],
        ids["member reconnect"],
        ids["member read"],
    ]
    read = data[-1]
    assert read["kind"] == "token_read" and read["actor"] == "service"
    assert read["service"] == "activity refresh_tokens"
    assert read["workflow_id"] == f"connection/{world['mine']}" and read["run_id"] == "run-1"
    assert read["connection_id"] == str(world["mine"])
    assert data[0]["actor"] == "user" and data[0]["actor_user_id"] == str(admin[0])


async def test_members_see_their_connections_and_their_own_actions(client, member, world):
    ids = world["ids"]
    data = await listed(client, member[1])
    assert [e["id"] for e in data] == [ids["member reconnect"], ids["member read"]]
    # Another user's connection in the same account, and another account's: nothing, not an error.
    assert await listed(client, member[1], connection_id=str(world["admins"])) == []
    assert await listed(client, member[1], connection_id=str(world["theirs"])) == []


async def test_filters_and_pages(client, admin, world):
    ids = world["ids"]
    by_connection = await listed(client, admin[1], connection_id=str(world["mine"]))
    assert [e["id"] for e in by_connection] == [ids["member reconnect"], ids["member read"]]
    reads = await listed(client, admin[1], kind="token_read")
    assert [e["id"] for e in reads] == [ids["admin read"], ids["member read"]]

    first = await listed(client, admin[1], limit=2)
    second = await listed(client, admin[1], limit=2, offset=2)
    assert [e["id"] for e in first + second] == [e["id"] for e in await listed(client, admin[1])]
    after_cursor = await listed(client, admin[1], limit=2, before=first[-1]["id"])
    assert after_cursor == second


@pytest.mark.parametrize(
    "params", [{"kind": "everything"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"before": 0}]
)
async def test_bad_queries_are_422(client, admin, params):
    response = await client.get("/api/audit", params=params, headers=bearer(admin[1]))
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


async def test_anonymous_is_401(client):
    response = await client.get("/api/audit")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_permission_change_commits_with_the_change_or_not_at_all(engine, admin):
    """record_permission_change joins the caller's transaction: rolled back, nothing is left."""
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        actor = session.get_one(User, admin[0])
        record_permission_change(session, actor, "create_integrations", "everyone", "admins")
        raise RuntimeError("the change failed")
    assert entries(engine) == []

    listed_user = uuid.uuid4()
    with session_scope(engine) as session:
        actor = session.get_one(User, admin[0])
        record_permission_change(
            session, actor, "create_integrations", "admins", {"users": [str(listed_user)]}
        )
    (entry,) = entries(engine)
    assert (entry.kind, entry.actor_user_id, entry.account_id) == (
        "permission_change",
        admin[0],
        actor.account_id,
    )
    assert entry.detail == f"create_integrations: admins -> users {listed_user}"


async def test_codec_decodes_are_audited_without_what_they_decoded(app, client, engine, admin, member):
    codec = EncryptionCodec(Keyring.generate())
    app.state.payload_codec = codec
    secret = b'"the quarterly numbers are confidential"'
    encrypted = await codec.encode([plain_payload(secret), plain_payload(b'"two"')])

    decoded = await client.post("/codec/decode", json=wire(*encrypted), headers=bearer(admin[1]))
    assert decoded.status_code == 200, decoded.text
    assert from_wire(decoded.json())[0].data == secret
    altered = Payload(metadata=dict(encrypted[0].metadata), data=encrypted[0].data[:-1] + b"x")
    refused = await client.post("/codec/decode", json=wire(altered), headers=bearer(admin[1]))
    assert refused.status_code == 422
    # Members are refused before anything is decoded: nothing to audit.
    forbidden = await client.post("/codec/decode", json=wire(*encrypted), headers=bearer(member[1]))
    assert forbidden.status_code == 403

    rows = entries(engine)
    assert [(e.kind, e.actor_user_id, e.detail) for e in rows] == [
        ("codec_decode", admin[0], "2 payload(s) decoded"),
        ("codec_decode", admin[0], "1 payload(s) refused"),
    ]
    assert rows[0].service == "api POST /codec/decode"
    for entry in rows:
        assert b"confidential" not in repr(entry.__dict__).encode()


async def test_a_decode_whose_entry_cannot_be_written_is_not_answered(app, client, engine, admin):
    codec = EncryptionCodec(Keyring.generate())
    app.state.payload_codec = codec
    encrypted = await codec.encode([plain_payload(b'"confidential content"')])
    with engine.begin() as db:
        db.exec_driver_sql("ALTER TABLE audit_log RENAME TO audit_log_away")
    response = await client.post("/codec/decode", json=wire(*encrypted), headers=bearer(admin[1]))
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": "the audit log is not available; try again"}
    assert "confidential" not in response.text


async def test_a_token_read_in_a_request_names_the_user_and_the_request(engine, member):
    """TokenReads, the token store's hook, inside an API request (audit context opened by
    api/audit_context.py, user set by the mailbox dependency): the user and the route."""
    connection_id = new_connection(engine, member[0], "reader@contoso.test")
    reads = TokenReads(engine)
    token = begin_request("GET", f"/api/connections/{connection_id}/folders")
    try:
        set_request_user(member[0])
        await reads(str(connection_id))
    finally:
        end_request(token)
    (entry,) = entries(engine)
    assert (entry.kind, entry.actor_user_id, entry.connection_id) == ("token_read", member[0], connection_id)
    assert entry.service == f"api GET /api/connections/{connection_id}/folders"
    assert entry.workflow_id is None and entry.run_id is None


async def test_tokens_of_a_connection_without_a_row_are_not_read(engine):
    reads = TokenReads(engine)
    with pytest.raises(TokenNotFound):
        await reads(str(uuid.uuid4()))
    with pytest.raises(TokenNotFound):
        await reads("not-a-uuid")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
