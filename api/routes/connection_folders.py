"""A connection's mail folders, so that a user can pick one for a recipe (trigger.folder = its id)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter

from activities.folders import refused_folder_ids
from api.deps import CurrentUser, SessionDep
from api.mailbox_deps import MailboxAccessDep, graph_answers, require_usable
from api.routes.connections import owned_connection
from recipes.schemas import FolderPublic, FoldersPublic

router = APIRouter(prefix="/api/connections", tags=["connections"])


@router.get("/{connection_id}/folders")
async def list_folders(
    connection_id: uuid.UUID, session: SessionDep, user: CurrentUser, access: MailboxAccessDep
) -> FoldersPublic:
    """The mailbox's top-level mail folders a recipe may watch (junk, deleted, sent, drafts and outbox
    are never offered)."""
    connection = await asyncio.to_thread(owned_connection, session, user, connection_id)
    require_usable(connection)
    cid = str(connection.id)
    with graph_answers(connection):
        folders, refused = await asyncio.gather(
            access.call(cid, lambda m: m.list_folders()), refused_folder_ids(access, cid)
        )
    data = [FolderPublic(id=f.id, display_name=f.display_name or "") for f in folders if f.id not in refused]
    return FoldersPublic(data=data, count=len(data))
