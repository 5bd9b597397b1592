"""A dry run: what an incoming recipe would do with the last N messages of its folder. It reads only the
fields the recipe needs, through the worker's kind of throttled Graph client, and creates, sends and
records nothing. The answer shows the user their own subjects; nothing of it is logged.
"""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.orm import Session

from activities.folders import refused_folder_ids
from api.deps import CurrentUser, EngineDep, SessionDep
from api.mailbox_deps import MailboxAccessDep, graph_answers, require_usable
from api.routes.connections import owned_connection
from boards import service as boards
from boards.errors import BoardStoreError
from boards.store import BoardStore
from db.accounts import User
from db.connections import Connection
from payloads.email import EmailFacts
from recipes import store
from recipes.dry_run import evaluate, skip_reason
from recipes.email import facts_from_graph
from recipes.fields import graph_fields_for, needs_body_text
from recipes.model import CreateItemAction, CreateUpdateAction, EmailReceivedTrigger, Recipe
from recipes.render import render_update
from recipes.schemas import DryRunPublic, DryRunRequest, DryRunResult
from recipes.threads import lookup_keys

router = APIRouter(prefix="/api/recipes", tags=["recipes"])


def _load(session: Session, user: User, recipe_id: uuid.UUID) -> tuple[Recipe, Connection]:
    row = store.owned_recipe(session, user.id, recipe_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="recipe not found")
    return store.to_recipe(row), owned_connection(session, user, row.connection_id)


def _item_name(session: Session, account_id: uuid.UUID, item_id: str | None) -> str | None:
    if item_id is None:
        return None
    found = boards.get_item(session, account_id, uuid.UUID(item_id))
    return found[0].name if found is not None else None


def _evaluate_all(
    session: Session,
    boards_store: BoardStore,
    recipe: Recipe,
    account_id: uuid.UUID,
    emails: list[EmailFacts],
) -> list[DryRunResult]:
    """Each email evaluated, with the board read (never written) for what an update would land on.
    Blocking: runs in a thread."""
    action = recipe.action
    results = []
    for email in emails:
        thread_item = found_item = None
        already = boards_store.made_of(recipe.id, email.message_id)
        builtin = (
            isinstance(action, CreateItemAction | CreateUpdateAction) and action.destination == "builtin"
        )
        if builtin and skip_reason(recipe, email) is None:
            try:
                if isinstance(action, CreateItemAction) and action.replies == "update":
                    keys = lookup_keys(email)
                    thread_item = _item_name(
                        session, account_id, boards_store.item_for_thread(recipe.id, keys)
                    )
                elif isinstance(action, CreateUpdateAction):
                    update = render_update(action, email)
                    found = boards_store.find_item(action.board_id, update.find_column, update.find_value)
                    found_item = _item_name(session, account_id, found)
            except BoardStoreError as err:
                raise HTTPException(
                    status.HTTP_409_CONFLICT, detail=f"the recipe no longer fits its board: {err}"
                ) from None
        results.append(
            evaluate(recipe, email, thread_item=thread_item, found_item=found_item, already=already)
        )
    return results


@router.post("/{recipe_id}/dry-run")
async def dry_run(
    recipe_id: uuid.UUID,
    body: DryRunRequest,
    session: SessionDep,
    engine: EngineDep,
    user: CurrentUser,
    access: MailboxAccessDep,
) -> DryRunPublic:
    """What the recipe would do with the newest `limit` messages of its folder; changes nothing."""
    recipe, connection = await asyncio.to_thread(_load, session, user, recipe_id)
    trigger = recipe.trigger
    if not isinstance(trigger, EmailReceivedTrigger):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"dry runs are for incoming recipes (email_received); this one is {trigger.type}, "
            "which sends email on board events",
        )
    require_usable(connection)
    cid = str(connection.id)
    fields = graph_fields_for([recipe])
    body_text = needs_body_text([recipe])
    with graph_answers(connection):
        if trigger.folder != "inbox":
            # A folder id is opaque: one of the refused folders must not be read under another name.
            refused = await refused_folder_ids(access, cid)
            if trigger.folder in refused:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    detail=f"the recipe's folder is {refused[trigger.folder]}, which is never read",
                )
        try:
            messages = await access.call(
                cid, lambda m: m.recent_messages(trigger.folder, body.limit, fields, body_text=body_text)
            )
        except ValueError:  # not a Graph id (graph.mail refuses it before any request)
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail="the recipe's folder is not a mail folder id"
            ) from None
    emails = [facts_from_graph(m) for m in messages]
    results = await asyncio.to_thread(
        _evaluate_all, session, BoardStore(engine), recipe, connection.account_id, emails
    )
    return DryRunPublic(data=results, count=len(results))
