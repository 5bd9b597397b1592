"""Writing audit entries. `add` and the helpers that take a session put the entry into the caller's
transaction, so a change and its entry commit together or not at all; the others commit their own.

Only fixed phrases, ids and kinds go in: callers never pass a secret or anything from an email.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from enum import StrEnum

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audit.context import Actor, current_actor, user_actor
from db.accounts import User
from db.audit import AuditEntry
from db.connections import Connection
from db.engine import session_scope
from vault.errors import TokenNotFound

log = logging.getLogger("audit")

DETAIL_MAX = 500


class Kind(StrEnum):
    TOKEN_READ = "token_read"
    CONNECT = "connect"
    RECONNECT = "reconnect"
    # A connect that failed midway (Vault or Temporal refused): its row and tokens were removed again.
    CONNECT_UNDONE = "connect_undone"
    DISCONNECT_REQUESTED = "disconnect_requested"
    DISCONNECTED = "disconnected"
    REVOKED = "revoked"
    PERMISSION_CHANGE = "permission_change"
    # A user asked a connection to re-read its mailbox (POST /api/connections/{id}/resync).
    RESYNC_REQUESTED = "resync_requested"
    CODEC_DECODE = "codec_decode"


# Connection statuses whose arrival is audited, and the kind each becomes.
STATUS_KINDS = {"disconnected": Kind.DISCONNECTED, "revoked": Kind.REVOKED}


def add(
    session: Session,
    account_id: uuid.UUID,
    kind: Kind,
    actor: Actor,
    *,
    connection_id: uuid.UUID | None = None,
    detail: str = "",
) -> AuditEntry:
    """Adds the entry to the session's transaction (the caller commits)."""
    entry = AuditEntry(
        account_id=account_id,
        kind=kind.value,
        actor_user_id=actor.user_id,
        service=actor.service[:300] if actor.service else None,
        workflow_id=actor.workflow_id,
        run_id=actor.run_id,
        connection_id=connection_id,
        detail=detail[:DETAIL_MAX],
    )
    session.add(entry)
    return entry


def connection_event(session: Session, connection: Connection, kind: Kind, user: User) -> None:
    """A user connected, reconnected or disconnected this connection (in the caller's transaction)."""
    add(session, connection.account_id, kind, user_actor(user.id), connection_id=connection.id)


def status_changed(session: Session, connection_id: uuid.UUID, status: str, reason: str) -> None:
    """Before the caller's UPDATE sets `status`: an entry when it newly becomes disconnected or revoked
    (a repeated record of the same status, say an activity's retry, adds none). Actor: the current
    activity and its workflow run."""
    kind = STATUS_KINDS.get(status)
    if kind is None:
        return
    row = session.get(Connection, connection_id)
    if row is None or row.status == status:
        return
    add(session, row.account_id, kind, current_actor(), connection_id=connection_id, detail=reason)


def describe_permission(value: object) -> str:
    """`everyone`, `admins`, or the listed users' ids: what an entry says of a permission's value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("users"), list):
        return "users " + ",".join(sorted(str(u) for u in value["users"]))
    return type(value).__name__


def record_permission_change(
    session: Session, actor: User, setting: str, before: object, after: object
) -> None:
    """An admin changed an account permission (e.g. `create_integrations`), in the caller's transaction:
    call it before committing the change. `before`/`after`: "everyone", "admins" or {"users": [ids]}."""
    detail = f"{setting}: {describe_permission(before)} -> {describe_permission(after)}"
    add(session, actor.account_id, Kind.PERMISSION_CHANGE, user_actor(actor.id), detail=detail)


async def record_codec_decode(engine: Engine, admin: User, payloads: int, outcome: str) -> None:
    """An admin decoded payloads through the codec server (how many and whether it worked; never what)."""
    actor = user_actor(admin.id)
    detail = f"{payloads} payload(s) {outcome}"

    def write() -> None:
        with session_scope(engine) as session:
            add(session, admin.account_id, Kind.CODEC_DECODE, actor, detail=detail)

    await asyncio.to_thread(write)


async def record_disconnect_requested(session: Session, connection: Connection) -> None:
    """Its owner asked to disconnect (the API lets only the owner); the workflow then acts."""
    actor = user_actor(connection.owner_id)

    def write() -> None:
        add(session, connection.account_id, Kind.DISCONNECT_REQUESTED, actor, connection_id=connection.id)
        session.commit()

    await asyncio.to_thread(write)


class TokenReads:
    """TokenStore's read hook: every read of a connection's tokens from Vault gets an entry, written
    (and committed) before the read. A read that cannot be recorded does not happen; neither does one of
    a connection that has no row (no account to file it under, and no business reading it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def __call__(self, connection_id: str) -> None:
        actor = current_actor()
        await asyncio.to_thread(self._write, connection_id, actor)

    def _write(self, connection_id: str, actor: Actor) -> None:
        try:
            key = uuid.UUID(connection_id)
        except ValueError:
            raise TokenNotFound(f"no connection {connection_id}: its tokens are not read") from None
        with session_scope(self._engine) as session:
            row = session.get(Connection, key)
            if row is None:
                raise TokenNotFound(f"no connection {connection_id}: its tokens are not read")
            add(session, row.account_id, Kind.TOKEN_READ, actor, connection_id=key)
