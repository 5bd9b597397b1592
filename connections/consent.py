"""Connecting a mailbox: the OAuth consent kept server-side, then tokens to Vault and the workflow started.

A failure at any step undoes the steps before it, so a connection either exists whole (row, tokens in
Vault, workflow running) or not at all.

The database steps are synchronous (SQLAlchemy on an Engine) and a write can wait seconds for SQLite's
lock, so each runs in a worker thread (`asyncio.to_thread`) on the request's session, one at a time and
committed before the next await; the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from audit.record import Kind, connection_event
from connections.lifecycle import signal_reconnected, start_workflow
from db.accounts import User
from db.connections import Connection, OAuthFlow
from graph.identity import Identity, TokenSet
from graph.scopes import MAIL_READ, MAIL_SEND, USER_READ, has_scope
from payloads.connection import ConnectionStatus
from vault.errors import DecryptionFailed
from vault.models import StoredTokens
from vault.token_store import TokenStore

log = logging.getLogger("connections.consent")

FLOW_LIFETIME = timedelta(minutes=10)
SCOPE_CHOICES = {"incoming": MAIL_READ, "outgoing": MAIL_SEND}
ALWAYS = USER_READ


class ConnectError(Exception):
    """A connect or callback step failed in a way the user should see; `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def graph_scopes(choices: list[str]) -> list[str]:
    """`incoming,outgoing` -> Graph scopes; User.Read always (to know whose mailbox it is)."""
    unknown = [c for c in choices if c not in SCOPE_CHOICES]
    if unknown or not choices:
        raise ConnectError(
            "scopes must be a comma-separated list of: incoming, outgoing"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return [ALWAYS, *sorted({SCOPE_CHOICES[c] for c in choices})]


def requestable(granted: list[str]) -> list[str]:
    """The Graph scopes to ask again on reconnect (MSAL adds openid/profile/offline_access itself)."""
    return [ALWAYS, *sorted(v for v in SCOPE_CHOICES.values() if has_scope(granted, v))]


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


async def begin(
    session: Session,
    identity: Identity,
    user: User,
    scopes: list[str],
    redirect_uri: str,
    connection: Connection | None = None,
    *,
    flows: TokenStore,
) -> str:
    """Starts a consent and returns the URL to send the browser to. The flow (its PKCE verifier and
    nonce) is kept in the app database only encrypted by Vault, with a key derived for this user."""
    flow = await identity.initiate_auth_code_flow(
        scopes, redirect_uri, login_hint=connection.mailbox if connection else None
    )
    sealed = await flows.seal_flow(str(user.id), json.dumps(flow))
    await asyncio.to_thread(_keep_flow, session, user, str(flow["state"]), sealed, connection)
    return str(flow["auth_uri"])


def _keep_flow(session: Session, user: User, state: str, sealed: str, connection: Connection | None) -> None:
    now = datetime.now(UTC)
    session.execute(delete(OAuthFlow).where(OAuthFlow.expires_at < now))
    session.add(
        OAuthFlow(
            state_hash=_state_hash(state),
            user_id=user.id,
            connection_id=connection.id if connection else None,
            flow_json=sealed,
            expires_at=now + FLOW_LIFETIME,
        )
    )
    session.commit()


async def take_flow(
    session: Session, user: User, state: str | None, *, flows: TokenStore
) -> tuple[dict[str, Any], uuid.UUID | None]:
    """The flow this callback belongs to, removed at once so the same callback can never be replayed."""
    if not state:
        raise ConnectError("the sign-in response has no state: start connecting again")
    sealed, connection_id = await asyncio.to_thread(_take_flow, session, user, state)
    try:
        flow: dict[str, Any] = json.loads(await flows.open_flow(str(user.id), sealed))
    except (DecryptionFailed, ValueError):
        # Sealed for someone else (a row altered in the database), or kept in the clear by a release
        # before flows were encrypted: either way not usable.
        raise ConnectError("this sign-in could not be read back: connect again") from None
    return flow, connection_id


def _take_flow(session: Session, user: User, state: str) -> tuple[str, uuid.UUID | None]:
    row = session.get(OAuthFlow, _state_hash(state))
    if row is None:
        raise ConnectError("this sign-in response was already used or never started here: connect again")
    if row.user_id != user.id:
        # Left in place: someone else holding the callback URL must not spoil the owner's sign-in.
        raise ConnectError("this sign-in was started by another user", status=403)
    session.delete(row)
    # Abandoned sign-ins (their PKCE verifiers) go as soon as any callback arrives, not only on the next
    # connect.
    session.execute(delete(OAuthFlow).where(OAuthFlow.expires_at < datetime.now(UTC)))
    session.commit()
    if row.expires_at < datetime.now(UTC):
        raise ConnectError("this sign-in took longer than 10 minutes and expired: connect again")
    return row.flow_json, row.connection_id


def tokens_to_store(tokens: TokenSet, mailbox: str) -> StoredTokens:
    """What Vault keeps of a token set the identity platform just issued for `mailbox`."""
    return StoredTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        display_name=tokens.display_name or "",
        mailbox=mailbox,
        scopes=tokens.scopes,
        obtained_at=tokens.obtained_at,
    )


@dataclass
class Connected:
    connection: Connection
    reconnected: bool


async def complete(
    session: Session,
    tokens_store: TokenStore,
    temporal: Client,
    task_queue: str,
    user: User,
    tokens: TokenSet,
    reconnect_id: uuid.UUID | None,
) -> Connected:
    mailbox = (tokens.username or "").lower()
    if not mailbox:
        raise ConnectError("Microsoft did not say which mailbox was signed in to", status=502)
    stored = tokens_to_store(tokens, mailbox)
    existing = await asyncio.to_thread(_reconnect_target, session, user, mailbox, reconnect_id)
    if existing is not None:
        await tokens_store.save(str(existing.id), stored)
        await asyncio.to_thread(_regranted, session, existing, tokens, stored.display_name, user)
        await signal_reconnected(temporal, task_queue, existing)
        return Connected(existing, reconnected=True)
    connection = Connection(
        account_id=user.account_id,
        owner_id=user.id,
        mailbox=mailbox,
        display_name=stored.display_name,
        scopes=" ".join(tokens.scopes),
        status=ConnectionStatus.CONNECTING.value,
        tenant_id=tenant_of(tokens),
    )
    await asyncio.to_thread(_insert, session, connection, user)
    try:
        await tokens_store.save(str(connection.id), stored)
        await start_workflow(temporal, task_queue, connection)
    except Exception:
        await _undo(session, tokens_store, connection, user)
        raise
    return Connected(connection, reconnected=False)


def _reconnect_target(
    session: Session, user: User, mailbox: str, reconnect_id: uuid.UUID | None
) -> Connection | None:
    if reconnect_id is not None:
        target = session.get(Connection, reconnect_id)
        if target is None or target.owner_id != user.id:
            raise ConnectError("that connection no longer exists", status=404)
        if target.mailbox != mailbox:
            raise ConnectError(
                f"you signed in as {mailbox}, but this connection is for {target.mailbox}: "
                "reconnect with the same mailbox"
            )
        return target
    # Connecting a mailbox the user already has (and has not disconnected) brings that one back.
    return session.scalars(
        select(Connection).where(
            Connection.owner_id == user.id,
            Connection.mailbox == mailbox,
            Connection.status != ConnectionStatus.DISCONNECTED.value,
        )
    ).first()


# Each change below commits with its audit entry (audit/record.py) in one transaction.


def tenant_of(tokens: TokenSet) -> str | None:
    return tokens.tenant_id.lower() if tokens.tenant_id else None


def _regranted(
    session: Session, connection: Connection, tokens: TokenSet, display_name: str, user: User
) -> None:
    connection.scopes = " ".join(tokens.scopes)
    connection.tenant_id = tenant_of(tokens) or connection.tenant_id
    connection.display_name = display_name
    connection_event(session, connection, Kind.RECONNECT, user)
    session.commit()


def _insert(session: Session, connection: Connection, user: User) -> None:
    session.add(connection)
    session.flush()  # assigns the id the entry names
    connection_event(session, connection, Kind.CONNECT, user)
    session.commit()


async def _undo(session: Session, tokens_store: TokenStore, connection: Connection, user: User) -> None:
    log.warning("connecting %s failed midway; removing what was stored", connection.id)
    try:
        await tokens_store.destroy(str(connection.id))
    finally:
        await asyncio.to_thread(_remove, session, connection, user)


def _remove(session: Session, connection: Connection, user: User) -> None:
    connection_event(session, connection, Kind.CONNECT_UNDONE, user)
    session.delete(connection)
    session.commit()
