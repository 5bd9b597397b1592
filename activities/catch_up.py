"""The delta catch-up: what notifications missed (dropped, downtime, a removed subscription) is found by a
delta query over the inbox and over each folder the connection's recipes watch
(activities/catch_up_folders.py), whose positions are kept in the application database, one per folder.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from temporalio import activity

import activitylog
from activities.catch_up_folders import (
    FIRST_ROUND_MARGIN,
    CaughtFolder,
    caught_folders,
    first_round_since,
    forget_unwatched,
)
from activities.errors import retry_semantics
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from db.engine import session_scope
from db.sync_state import MailSyncState
from graph.errors import SyncStateExpired, Unauthorized
from payloads.messages import CatchUpRequest, CatchUpResult

__all__ = ["DELTA_PAGE_SIZE", "FIRST_ROUND_MARGIN", "CatchUpActivities"]

DELTA_PAGE_SIZE = 100


@dataclass(frozen=True)
class SavedPosition:
    link: str
    complete: bool  # a delta link (the round is complete) or a next link inside the round
    call: int | None
    started_from: str | None


@dataclass
class FolderChunk:
    found: list[str]
    complete: bool


class CatchUpActivities:
    def __init__(self, access: MailboxAccess, engine: Engine, folders: AllowedFolders) -> None:
        self._access = access
        self._engine = engine
        self._folders = folders

    @activity.defn(name="catch_up_messages")
    async def catch_up_messages(self, request: CatchUpRequest) -> CatchUpResult:
        """One chunk of the delta rounds over the inbox and the watched folders: the ids that have no
        outcome yet. `complete` once every folder's round is.

        Folders go in order (the inbox first); a call stops at `limit` ids, mid-round if need be, and
        the next call goes on from there. Each folder's position is kept in the database: the next link
        while its round is unfinished, the delta link once it is complete, and which call moved it from
        where (a repeated call number starts that folder there again). Only ids are requested ($select=id).
        """
        connection_id = request.connection_id
        found: list[str] = []
        complete = True
        with retry_semantics("delta catch-up"):
            folders = await caught_folders(self._folders, connection_id)
            for folder in folders:
                if len(found) >= request.limit:
                    complete = False
                    break
                room = request.limit - len(found)
                chunk = await self._folder_chunk(connection_id, folder, room, request.call)
                found.extend(chunk.found)
                if not chunk.complete:
                    complete = False
                    break
            keep = [f.key for f in folders]
            await asyncio.to_thread(forget_unwatched, self._engine, connection_id, keep)
        done = await asyncio.to_thread(activitylog.processed_message_ids, self._engine, connection_id, found)
        return CatchUpResult(
            message_ids=[m for m in dict.fromkeys(found) if m not in done], complete=complete
        )

    async def _folder_chunk(
        self, connection_id: str, folder: CaughtFolder, limit: int, call: int | None
    ) -> FolderChunk:
        try:
            return await self._delta(connection_id, folder, limit, call)
        except SyncStateExpired:
            # Graph forgot our place (410): start a full round again, bounded as a first round is.
            await asyncio.to_thread(self._forget_position, connection_id, folder.key)
            return await self._delta(connection_id, folder, limit, call)

    async def _delta(
        self, connection_id: str, folder: CaughtFolder, limit: int, call: int | None
    ) -> FolderChunk:
        start = await asyncio.to_thread(self._start_of_call, connection_id, folder.key, call)
        since = None
        if start is None:  # a first round: from about when the folder began to matter
            since = await asyncio.to_thread(first_round_since, self._engine, connection_id, folder)
        link = start
        found: list[str] = []
        complete = True
        refreshed = False
        pages = 0
        position: str | None = None
        while True:
            mailbox = await self._access.client(connection_id)
            try:
                first = since if link is None else None
                async for page in mailbox.delta(folder.folder_id, link, ["id"], DELTA_PAGE_SIZE, first):
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
        if position is not None:
            moved = SavedPosition(link=position, complete=complete, call=call, started_from=start)
            await asyncio.to_thread(self._save_position, connection_id, folder.key, moved)
        return FolderChunk(found=found, complete=complete)

    def _start_of_call(self, connection_id: str, key: str, call: int | None) -> str | None:
        """Where this call starts in this folder: mid-round, after the last round, or where the same
        call started before (its result never reached the workflow); None: a first round."""
        with session_scope(self._engine) as session:
            state = session.get(MailSyncState, (uuid.UUID(connection_id), key))
            if state is not None and call is not None and state.last_call == call:
                return state.previous_link
            return (state.resume_link or state.delta_link) if state else None

    def _save_position(self, connection_id: str, key: str, moved: SavedPosition) -> None:
        """A complete round (its delta link) or a place inside one (a next link), and which call got
        there from where. Saved last, after everything that could fail: a retry then rarely redoes."""
        with session_scope(self._engine) as session:
            ident = (uuid.UUID(connection_id), key)
            state = session.get(MailSyncState, ident) or MailSyncState(connection_id=ident[0], folder=key)
            session.add(state)
            if moved.complete:
                state.delta_link, state.resume_link = moved.link, None
            else:
                state.resume_link = moved.link
            state.last_call, state.previous_link = moved.call, moved.started_from

    def _forget_position(self, connection_id: str, key: str) -> None:
        with session_scope(self._engine) as session:
            state = session.get(MailSyncState, (uuid.UUID(connection_id), key))
            if state is not None:
                state.delta_link = state.resume_link = state.previous_link = None
                state.last_call = None

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.catch_up_messages]
