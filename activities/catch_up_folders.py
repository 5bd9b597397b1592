"""Which folders a connection's catch-up goes over: the inbox always, and each folder its enabled incoming
recipes watch (a custom folder's id, or a well-known name such as "archive"; never a refused one).

Each folder's delta position is a row of mail_sync_state under its own key: "inbox" for the inbox (as
before custom folders), and for any other folder a digest of its id, since Graph's folder ids are longer
(about 120 characters) than the key column. A folder that no recipe watches any longer loses its row, so
watching it again starts afresh instead of turning the mail of the unwatched time into items.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from activities.folders import AllowedFolders
from db.connections import Connection
from db.engine import session_scope
from db.recipes import RecipeRow
from db.sync_state import MailSyncState
from recipes.model import EmailReceivedTrigger
from recipes.store import to_recipe

INBOX_KEY = "inbox"
# Graph stamps receivedDateTime to the whole second by Exchange's clock, not ours: a first round that
# started exactly at the connection's creation would miss mail received in that same second (or a
# little earlier by a skewed clock). A minute earlier is safe; an older mail there is only a match.
FIRST_ROUND_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class CaughtFolder:
    key: str  # mail_sync_state.folder
    folder_id: str  # Graph's id
    # Names as the recipes give them ("inbox", "archive", an id): whose recipes bound the first round.
    names: frozenset[str]


def folder_key(folder_id: str, inbox_id: str) -> str:
    if folder_id == inbox_id:
        return INBOX_KEY
    return "id:" + hashlib.sha256(folder_id.encode("utf-8")).hexdigest()[:48]


async def caught_folders(folders: AllowedFolders, connection_id: str) -> list[CaughtFolder]:
    """The inbox first, then each other watched folder, in a stable order."""
    inbox_id = await folders.inbox(connection_id)
    # Read now: a catch-up follows a switch to a new folder, whose mail must be found (and allowed).
    allowed = await folders.ids(connection_id, fresh=True)
    names: dict[str, set[str]] = {inbox_id: {"inbox"}}
    for name in sorted(await folders.recipe_folders(connection_id)):
        folder_id = await folders.folder_id(connection_id, name)
        if folder_id in allowed:
            names.setdefault(folder_id, set()).add(name)
    caught = [CaughtFolder(folder_key(f, inbox_id), f, frozenset(n)) for f, n in names.items()]
    return sorted(caught, key=lambda c: (c.key != INBOX_KEY, c.key))


def first_round_since(engine: Engine, connection_id: str, folder: CaughtFolder) -> datetime:
    """Where a folder's first round starts: the inbox at the connection's creation; another folder when
    the earliest of its recipes was last saved (about when it began watching it), never before the
    connection's creation. Less FIRST_ROUND_MARGIN either way."""
    with session_scope(engine) as session:
        connection = session.get(Connection, uuid.UUID(connection_id))
        since = connection.created_at if connection else datetime.now(UTC)
        if folder.key != INBOX_KEY:
            rows = session.scalars(
                select(RecipeRow).where(
                    RecipeRow.connection_id == uuid.UUID(connection_id), RecipeRow.enabled.is_(True)
                )
            ).all()
            watching = [
                row.updated_at
                for row in rows
                if isinstance(trigger := to_recipe(row).trigger, EmailReceivedTrigger)
                and trigger.folder in folder.names
            ]
            if watching:
                since = max(since, min(watching))
    return since.replace(microsecond=0) - FIRST_ROUND_MARGIN


def forget_unwatched(engine: Engine, connection_id: str, keep: list[str]) -> None:
    """Drops the positions of folders no recipe watches any longer (the inbox's always stays)."""
    with session_scope(engine) as session:
        session.execute(
            delete(MailSyncState).where(
                MailSyncState.connection_id == uuid.UUID(connection_id),
                MailSyncState.folder.not_in([INBOX_KEY, *keep]),
            )
        )
