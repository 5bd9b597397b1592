"""The message workflow's steps, one activity each, so that each shows in the history by name and a retry
repeats only the step that failed (a board outage retries the item, never the Graph fetch).

1. `check_folder`: parentFolderId only. Mail outside the allowed folders is never read further.
2. `fetch_message`: exactly the fields the connection's enabled recipes need ($select).
3. `filter_message`: which recipes match, and for each that does not, the first condition it failed.
The writing steps follow, once per matched recipe (activities/message_writes.py); then `record_outcome`
writes the activity log once, with each recipe's result.

Database calls are blocking (SQLAlchemy on an Engine): they run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from temporalio import activity

import activitylog
from activities.errors import retry_semantics
from activities.folders import AllowedFolders
from activities.mailbox_access import MailboxAccess
from activities.recipe_cache import RecipeCache
from graph.errors import NotFound
from payloads.messages import (
    FetchedMessage,
    FolderCheck,
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
from recipes.model import EmailReceivedTrigger, Recipe
from telemetry.metrics import MESSAGES, reason_kind

RECEIVED = "receivedDateTime"

GONE = "message no longer exists"


class MessageSteps:
    def __init__(
        self, access: MailboxAccess, engine: Engine, recipes: RecipeCache, folders: AllowedFolders
    ) -> None:
        self._access = access
        self._engine = engine
        self._recipes = recipes
        self._folders = folders

    @activity.defn(name="check_folder")
    async def check_folder(self, message: MessageInput) -> FolderCheck:
        with retry_semantics("check folder"):
            try:
                folder_id = await self._access.call(
                    message.connection_id, lambda m: m.message_folder_id(message.message_id)
                )
            except NotFound:
                return FolderCheck(allowed=False, reason=GONE)
            allowed = await self._folders.ids(message.connection_id)
            if folder_id not in allowed:
                # A recipe saved a moment ago may watch it: ask the database once before refusing, as a
                # refusal is final (catch-up skips what has an outcome).
                allowed = await self._folders.ids(message.connection_id, fresh=True)
            if folder_id not in allowed:
                return FolderCheck(allowed=False, reason="folder")
        return FolderCheck(allowed=True, folder_id=folder_id)

    @activity.defn(name="fetch_message")
    async def fetch_message(self, message: MessageInput) -> FetchedMessage:
        recipes = await self._recipes.incoming(message.connection_id)
        if not recipes:
            return FetchedMessage(reason="no recipe for this connection")
        fields = graph_fields_for(recipes)
        if RECEIVED not in fields:
            # Metadata, not content: when the email arrived, for the delivery-to-item latency metric.
            fields = [*fields, RECEIVED]
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
        recipes = [r for r in await self._recipes.incoming(request.connection_id) if r.id in wanted]
        if request.folder_id:
            recipes = [r for r in recipes if await self._watches(request.connection_id, r, request.folder_id)]
        result = MatchResult()
        for recipe in recipes:
            failed = first_failed_condition(recipe, email)
            if failed is None:
                result.matched.append(recipe.id)
                if recipe.action.type == "create_update":
                    result.updates.append(recipe.id)
            else:
                result.missed.append(
                    RecipeMiss(recipe_name=recipe.name, recipe_id=recipe.id, condition=failed)
                )
        return result

    @activity.defn(name="record_outcome")
    async def record_outcome(self, record: OutcomeRecord) -> None:
        result = record.result
        await asyncio.to_thread(
            functools.partial(
                activitylog.record_outcome,
                self._engine,
                record.connection_id,
                record.message_id,
                result.outcome.value,
                result.reason,
                result.items_created,
                details=[r.model_dump() for r in result.recipes] if result.recipes else None,
            )
        )
        # After the write: a retry of a failed write counts once, when it succeeds.
        outcome = result.outcome.value
        MESSAGES.labels(outcome=outcome, reason_kind=reason_kind(outcome, result.reason)).inc()

    async def _watches(self, connection_id: str, recipe: Recipe, folder_id: str) -> bool:
        folder = recipe.trigger.folder if isinstance(recipe.trigger, EmailReceivedTrigger) else "inbox"
        return await self._folders.folder_id(connection_id, folder) == folder_id

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [
            self.check_folder,
            self.fetch_message,
            self.filter_message,
            self.record_outcome,
        ]
