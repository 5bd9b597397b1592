"""The message workflow's steps, one activity each, so that each shows in the history by name and a retry
repeats only the step that failed (a board outage retries the item, never the Graph fetch).

1. `check_folder`: parentFolderId only. Mail outside the allowed folders is never read further.
2. `fetch_message`: exactly the fields the connection's enabled recipes need ($select).
3. `filter_message`: which recipes match, and for each that does not, the first condition it failed.
4. `create_item`: once per matched recipe; the board store's ledger keeps it to one item per
   (recipe, message) across retries, crashes and replays.
Then `record_outcome` writes the activity log once.

Database calls are blocking (SQLAlchemy on an Engine): they run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

import activitylog
from activities.errors import retry_semantics
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from boards.errors import BoardStoreError
from boards.store import BoardStore
from db.engine import session_scope
from graph.errors import NotFound
from payloads.messages import (
    RECIPE_BROKEN,
    FetchedMessage,
    FolderCheck,
    ItemRequest,
    ItemResult,
    MatchRequest,
    MatchResult,
    MessageInput,
    OutcomeRecord,
    RecipeMiss,
)
from recipes.email import facts_from_graph
from recipes.fields import graph_fields_for, needs_body_text
from recipes.loops import is_automatic_reply, is_own_mail
from recipes.match import first_failed_condition
from recipes.model import Recipe
from recipes.render import render_item
from recipes.store import recipes_for_connection

GONE = "message no longer exists"
# The steps of one message read the connection's recipes within a second or so of each other: read once
# per connection and worker for this long (a recipe changed meanwhile applies to the next message).
RECIPES_FRESH_FOR = 2.0


class MessageSteps:
    def __init__(
        self, access: MailboxAccess, engine: Engine, boards: BoardStore, folders: AllowedFolders
    ) -> None:
        self._access = access
        self._engine = engine
        self._boards = boards
        self._folders = folders
        self._recipes_read: dict[str, tuple[float, list[Recipe]]] = {}

    @activity.defn(name="check_folder")
    async def check_folder(self, message: MessageInput) -> FolderCheck:
        with retry_semantics("check folder"):
            try:
                folder_id = await self._access.call(
                    message.connection_id, lambda m: m.message_folder_id(message.message_id)
                )
            except NotFound:
                return FolderCheck(allowed=False, reason=GONE)
            if folder_id not in await self._folders.ids(message.connection_id):
                return FolderCheck(allowed=False, reason="folder")
        return FolderCheck(allowed=True)

    @activity.defn(name="fetch_message")
    async def fetch_message(self, message: MessageInput) -> FetchedMessage:
        recipes = await self._recipes(message.connection_id)
        if not recipes:
            return FetchedMessage(reason="no recipe for this connection")
        fields = graph_fields_for(recipes)
        body_text = needs_body_text(recipes)
        with retry_semantics("fetch message"):
            try:
                fetched = await self._access.call(
                    message.connection_id,
                    lambda m: m.get_message(message.message_id, fields, body_text=body_text),
                )
            except NotFound:
                return FetchedMessage(reason=GONE)
        return FetchedMessage(email=facts_from_graph(fetched), recipe_ids=[r.id for r in recipes])

    @activity.defn(name="filter_message")
    async def filter_message(self, request: MatchRequest) -> MatchResult:
        email = request.email
        if is_own_mail(email):
            return MatchResult(skip_reason="sent by this service")
        if is_automatic_reply(email):
            return MatchResult(skip_reason="automatic reply")
        wanted = set(request.recipe_ids)
        # Still enabled, and among those the fetch was made for.
        recipes = [r for r in await self._recipes(request.connection_id) if r.id in wanted]
        result = MatchResult()
        for recipe in recipes:
            failed = first_failed_condition(recipe, email)
            if failed is None:
                result.matched.append(recipe.id)
            else:
                result.missed.append(RecipeMiss(recipe_name=recipe.name, condition=failed))
        return result

    @activity.defn(name="create_item")
    async def create_item(self, request: ItemRequest) -> ItemResult:
        recipe = await self._recipe(request.connection_id, request.recipe_id)
        if recipe is None:
            raise ApplicationError(
                "the recipe was deleted or disabled before its item was made",
                type=RECIPE_BROKEN,
                non_retryable=True,
            )
        try:
            item_id, created = await asyncio.to_thread(
                self._boards.create_item_once,
                recipe_id=recipe.id,
                message_id=request.message_id,
                connection_id=request.connection_id,
                draft=render_item(recipe, request.email),
                board_id=recipe.action.board_id,
            )
        except BoardStoreError as err:
            # The board changed under the recipe (deleted group or column): retrying cannot help.
            raise ApplicationError(
                f"recipe {recipe.name!r}: {err}", type=RECIPE_BROKEN, non_retryable=True
            ) from None
        return ItemResult(item_id=item_id, created=created)

    @activity.defn(name="record_outcome")
    async def record_outcome(self, record: OutcomeRecord) -> None:
        result = record.result
        await asyncio.to_thread(
            activitylog.record_outcome,
            self._engine,
            record.connection_id,
            record.message_id,
            result.outcome.value,
            result.reason,
            result.items_created,
        )

    # ----- helpers --------------------------------------------------------------------------------

    async def _recipes(self, connection_id: str) -> list[Recipe]:
        """The connection's enabled recipes: from this worker's last read if it is fresh (no thread hop),
        else from the database (in a thread)."""
        read = self._recipes_read.get(connection_id)
        if read is not None and time.monotonic() - read[0] < RECIPES_FRESH_FOR:
            return read[1]
        return await asyncio.to_thread(self._read_recipes, connection_id)

    def _read_recipes(self, connection_id: str) -> list[Recipe]:
        now = time.monotonic()
        with session_scope(self._engine) as session:
            recipes = recipes_for_connection(session, connection_id)
        if len(self._recipes_read) > 10_000:  # bounded: forget connections not seen lately
            self._recipes_read = {
                k: v for k, v in self._recipes_read.items() if now - v[0] < RECIPES_FRESH_FOR
            }
        self._recipes_read[connection_id] = (now, recipes)
        return recipes

    async def _recipe(self, connection_id: str, recipe_id: str) -> Recipe | None:
        return next((r for r in await self._recipes(connection_id) if r.id == recipe_id), None)

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.check_folder,
            self.fetch_message,
            self.filter_message,
            self.create_item,
            self.record_outcome,
        ]
