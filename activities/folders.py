"""The ids of the folders a connection may read, resolved once per connection and worker process.

A message's parentFolderId is an opaque id, never a name: the well-known names are resolved through
Graph and compared by id. Well-known folder ids never change, so they are cached for the process's life.
"""

from __future__ import annotations

from activities.mailbox_access import MailboxAccess

# The folders a connection may read; junk, deleted items, sent items, drafts and outbox never.
ALLOWED_FOLDERS = ("inbox",)


class AllowedFolders:
    def __init__(self, access: MailboxAccess) -> None:
        self._access = access
        self._ids: dict[str, dict[str, str]] = {}

    async def ids(self, connection_id: str) -> frozenset[str]:
        return frozenset((await self._resolve(connection_id)).values())

    async def inbox(self, connection_id: str) -> str:
        return (await self._resolve(connection_id))["inbox"]

    async def _resolve(self, connection_id: str) -> dict[str, str]:
        if connection_id not in self._ids:
            self._ids[connection_id] = await self._access.call(
                connection_id, lambda m: m.resolve_well_known_folders(ALLOWED_FOLDERS)
            )
        return self._ids[connection_id]
