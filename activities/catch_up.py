"""The delta catch-up: what notifications missed (dropped, downtime, a removed subscription) is found by a
delta query over the inbox, whose position is kept in the application database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from temporalio import activity

import activitylog
from activities.errors import retry_semantics
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from db.connections import Connection
from db.engine import session_scope
from db.sync_state import MailSyncState
from graph.errors import SyncStateExpired, Unauthorized
from payloads.messages import CatchUpRequest, CatchUpResult

DELTA_PAGE_SIZE = 100
# Graph stamps receivedDateTime to the whole second by Exchange's clock, not ours: a first round that
# started exactly at the connection's creation would miss mail received in that same second (or a
# little earlier by a skewed clock). A minute earlier is safe; an older mail there is only a match.
FIRST_ROUND_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class SavedPosition:
    link: str
    complete: bool  # a delta link (the round is complete) or a next link inside the round
    call: int | None
    started_from: str | None


class CatchUpActivities:
    def __init__(self, access: MailboxAccess, engine: Engine, folders: AllowedFolders) -> None:
        self._access = access
        self._engine = engine
        self._folders = folders

    @activity.defn(name="catch_up_messages")
    async def catch_up_messages(self, request: CatchUpRequest) -> CatchUpResult:
        """One chunk of a delta round over the inbox: the ids that have no outcome yet.

        The round's position is kept in the database: the next link while the round is unfinished,
        the delta link once it is complete. Only ids are requested ($select=id)."""
        connection_id = request.connection_id
        with retry_semantics("delta catch-up"):
            try:
                return await self._catch_up(connection_id, request.limit, request.call)
            except SyncStateExpired:
                # Graph forgot our place (410): start a full round again, bounded by the connection's age.
                await asyncio.to_thread(self._forget_position, connection_id)
                return await self._catch_up(connection_id, request.limit, request.call)

    async def _catch_up(self, connection_id: str, limit: int, call: int | None) -> CatchUpResult:
        start, since = await asyncio.to_thread(self._start_of_call, connection_id, call)
        inbox = await self._folders.inbox(connection_id)
        link = start
        found: list[str] = []
        complete = True
        refreshed = False
        pages = 0
        position: str | None = None
        while True:
            mailbox = await self._access.client(connection_id)
            try:
                async for page in mailbox.delta(
                    inbox, link, ["id"], DELTA_PAGE_SIZE, received_since=since if link is None else None
                ):
                    pages += 1
                    activity.heartbeat(pages)
                    found.extend(m.id for m in page.messages if m.id and m.removed is None)
                    if page.delta_link:
                        position = page.delta_link
                        break
                    link = page.next_link
                    if len(found) >= limit and link:
                        position, complete = link, False
                        break
                break
            except Unauthorized:
                if refreshed:
                    raise
                # One refresh, then resume from the last page reached (its next link).
                await self._access.refresh(connection_id)
                refreshed = True
        done = await asyncio.to_thread(activitylog.processed_message_ids, self._engine, connection_id, found)
        if position is not None:
            moved = SavedPosition(link=position, complete=complete, call=call, started_from=start)
            await asyncio.to_thread(self._save_position, connection_id, moved)
        return CatchUpResult(
            message_ids=[m for m in dict.fromkeys(found) if m not in done], complete=complete
        )

    def _start_of_call(self, connection_id: str, call: int | None) -> tuple[str | None, datetime | None]:
        """Where this call starts: mid-round, after the last round, where the same call started
        before (its result never reached the workflow), or (first round) at the connection's creation
        (less FIRST_ROUND_MARGIN), so older mail never becomes items."""
        with session_scope(self._engine) as session:
            state = session.get(MailSyncState, (uuid.UUID(connection_id), "inbox"))
            if state is not None and call is not None and state.last_call == call:
                link = state.previous_link
            else:
                link = (state.resume_link or state.delta_link) if state else None
            if link:
                return link, None
            connection = session.get(Connection, uuid.UUID(connection_id))
            created = connection.created_at if connection else datetime.now(UTC)
            return None, created.replace(microsecond=0) - FIRST_ROUND_MARGIN

    def _save_position(self, connection_id: str, moved: SavedPosition) -> None:
        """A complete round (its delta link) or a place inside one (a next link), and which call got
        there from where. Saved last, after everything that could fail: a retry then rarely redoes."""
        with session_scope(self._engine) as session:
            key = (uuid.UUID(connection_id), "inbox")
            state = session.get(MailSyncState, key) or MailSyncState(connection_id=key[0], folder="inbox")
            session.add(state)
            if moved.complete:
                state.delta_link, state.resume_link = moved.link, None
            else:
                state.resume_link = moved.link
            state.last_call, state.previous_link = moved.call, moved.started_from

    def _forget_position(self, connection_id: str) -> None:
        with session_scope(self._engine) as session:
            state = session.get(MailSyncState, (uuid.UUID(connection_id), "inbox"))
            if state is not None:
                state.delta_link = state.resume_link = state.previous_link = None
                state.last_call = None

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.catch_up_messages]
