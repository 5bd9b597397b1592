"""The ids of the folders a connection may read, resolved once per connection and worker process.

A message's parentFolderId is an opaque id, never a name: the well-known names are resolved through
Graph and compared by id. Well-known folder ids never change, so they are cached for the process's life.

Beside the inbox, a folder that one of the connection's enabled incoming recipes watches is allowed
(given the database to read the recipes from): a custom folder's id as the user picked it from
GET /api/connections/{id}/folders, or a well-known name such as "archive". The refused folders (junk,
deleted items, sent items, drafts, outbox) stay refused even when a recipe names one of them by its id.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine

from activities.mailbox_access import MailboxAccess
from db.engine import session_scope
from recipes.model import REFUSED_FOLDERS, EmailReceivedTrigger
from recipes.store import recipes_for_connection

# The folders a connection may read; junk, deleted items, sent items, drafts and outbox never.
ALLOWED_FOLDERS = ("inbox",)
REFUSED = tuple(REFUSED_FOLDERS)
# Graph's well-known folder names (graph-facts.md): a recipe folder written so is resolved, not an id.
WELL_KNOWN_NAMES = frozenset(
    {
        "inbox",
        "archive",
        "clutter",
        "conflicts",
        "conversationhistory",
        "localfailures",
        "msgfolderroot",
        "recoverableitemsdeletions",
        "scheduled",
        "searchfolders",
        "serverfailures",
        "syncissues",
        *REFUSED,
    }
)
# The message steps read the recipes about as often: a recipe's new folder applies within this long.
RECIPE_FOLDERS_FRESH_FOR = 2.0


class AllowedFolders:
    def __init__(self, access: MailboxAccess, engine: Engine | None = None) -> None:
        self._access = access
        # Without an engine only the inbox is allowed (recipes' folders are not read).
        self._engine = engine
        self._ids: dict[str, dict[str, str]] = {}
        self._recipe_folders: dict[str, tuple[float, frozenset[str]]] = {}

    async def ids(self, connection_id: str, *, fresh: bool = False) -> frozenset[str]:
        """The folder ids whose messages the connection's recipes may read (`fresh`: the recipes read
        now, not up to RECIPE_FOLDERS_FRESH_FOR ago)."""
        allowed = set((await self._resolve(connection_id, ALLOWED_FOLDERS)).values())
        watched = await self.recipe_folders(connection_id, fresh=fresh)
        if not watched - {"inbox"}:
            return frozenset(allowed)
        names = [f.lower() for f in watched if f.lower() in WELL_KNOWN_NAMES]
        known = await self._resolve(connection_id, (*names, *REFUSED))
        refused = {known[name] for name in REFUSED}
        for folder in watched:
            folder_id = known[folder.lower()] if folder.lower() in WELL_KNOWN_NAMES else folder
            if folder_id not in refused:
                allowed.add(folder_id)
        return frozenset(allowed)

    async def folder_id(self, connection_id: str, folder: str) -> str:
        """A recipe's folder as an id: a well-known name resolved (once), a custom folder's id as is."""
        name = folder.lower()
        if name in WELL_KNOWN_NAMES:
            return (await self._resolve(connection_id, (name,)))[name]
        return folder

    async def inbox(self, connection_id: str) -> str:
        return (await self._resolve(connection_id, ALLOWED_FOLDERS))["inbox"]

    async def recipe_folders(self, connection_id: str, *, fresh: bool = False) -> frozenset[str]:
        """The folders ("inbox", a well-known name or a folder id) the enabled incoming recipes watch.
        A fresh read also renews what the folder checks of this process see: the catch-up that follows
        a subscription's switch to a new folder reads fresh, so that folder's mail is not refused."""
        if self._engine is None:
            return frozenset({"inbox"})
        read = self._recipe_folders.get(connection_id)
        if not fresh and read is not None and time.monotonic() - read[0] < RECIPE_FOLDERS_FRESH_FOR:
            return read[1]
        folders = await asyncio.to_thread(self._read_recipe_folders, connection_id)
        if len(self._recipe_folders) > 10_000:  # bounded: forget connections not seen lately
            self._recipe_folders.clear()
        self._recipe_folders[connection_id] = (time.monotonic(), folders)
        return folders

    def _read_recipe_folders(self, connection_id: str) -> frozenset[str]:
        assert self._engine is not None
        with session_scope(self._engine) as session:
            recipes = recipes_for_connection(session, connection_id)
        return frozenset(r.trigger.folder for r in recipes if isinstance(r.trigger, EmailReceivedTrigger)) | {
            "inbox"
        }

    async def _resolve(self, connection_id: str, names: tuple[str, ...]) -> dict[str, str]:
        """Well-known name -> id for these names; each resolved once per connection and process."""
        known = self._ids.setdefault(connection_id, {})
        missing = tuple(dict.fromkeys(n for n in names if n not in known))
        if missing:
            known.update(
                await self._access.call(connection_id, lambda m: m.resolve_well_known_folders(missing))
            )
        # These names only: the cache also holds the refused folders' ids, which `ids` resolves to
        # exclude them; handing back the whole cache let them into the allowed set from the second call.
        return {name: known[name] for name in names}


async def refused_folder_ids(access: MailboxAccess, connection_id: str) -> dict[str, str]:
    """Folder id -> the refused well-known name it is (junk, deleted items, sent items, drafts, outbox):
    what the API never lists as a choice and a dry run never reads."""
    ids = await access.call(connection_id, lambda m: m.resolve_well_known_folders(REFUSED))
    return {folder_id: name for name, folder_id in ids.items()}
