"""The naive design's activities: one regular activity per step, the email carried in history.

They reuse the product's building blocks (mailbox access, recipes, board store, activity log) so the
comparison measures the workflow design, not different Graph or database code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from temporalio import activity

import activitylog
from activities.mailbox_access import MailboxAccess
from bench.naive.models import FetchedMessage, ItemsToCreate, MatchedItem, NaiveOutcome, NaiveStep
from boards.store import BoardStore
from db.engine import session_scope
from graph.errors import NotFound
from recipes.email import facts_from_graph
from recipes.fields import graph_fields_for, needs_body_text
from recipes.match import matches
from recipes.model import CreateItemAction, Recipe
from recipes.render import render_item
from recipes.store import recipes_for_connection


class NaiveActivities:
    def __init__(self, access: MailboxAccess, engine: Engine, boards: BoardStore) -> None:
        self._access = access
        self._engine = engine
        self._boards = boards
        self._inbox: dict[str, str] = {}

    def _recipes(self, connection_id: str) -> list[Recipe]:
        with session_scope(self._engine) as session:
            return recipes_for_connection(session, connection_id)

    @activity.defn(name="naive_check_folder")
    async def check_folder(self, step: NaiveStep) -> bool:
        cid = step.connection_id
        if cid not in self._inbox:
            ids = await self._access.call(cid, lambda m: m.resolve_well_known_folders(("inbox",)))
            self._inbox[cid] = ids["inbox"]
        try:
            folder = await self._access.call(cid, lambda m: m.message_folder_id(step.message_id))
        except NotFound:
            return False
        return folder == self._inbox[cid]

    @activity.defn(name="naive_fetch_message")
    async def fetch_message(self, step: NaiveStep) -> FetchedMessage:
        recipes = await asyncio.to_thread(self._recipes, step.connection_id)
        try:
            message = await self._access.call(
                step.connection_id,
                lambda m: m.get_message(
                    step.message_id, graph_fields_for(recipes), body_text=needs_body_text(recipes)
                ),
            )
        except NotFound:
            return FetchedMessage(step=step, message=None)
        return FetchedMessage(step=step, message=message)

    @activity.defn(name="naive_match")
    async def match(self, fetched: FetchedMessage) -> ItemsToCreate:
        recipes = await asyncio.to_thread(self._recipes, fetched.step.connection_id)
        if fetched.message is None:
            return ItemsToCreate(step=fetched.step, items=[])
        email = facts_from_graph(fetched.message)
        return ItemsToCreate(
            step=fetched.step,
            items=[
                MatchedItem(recipe_id=r.id, board_id=r.action.board_id, draft=render_item(r, email))
                for r in recipes
                if isinstance(r.action, CreateItemAction) and matches(r, email)
            ],
        )

    @activity.defn(name="naive_create_items")
    async def create_items(self, work: ItemsToCreate) -> int:
        created = 0
        for item in work.items:
            _id, new = await asyncio.to_thread(
                self._boards.create_item_once,
                recipe_id=item.recipe_id,
                message_id=work.step.message_id,
                connection_id=work.step.connection_id,
                draft=item.draft,
                board_id=item.board_id,
            )
            created += int(new)
        return created

    @activity.defn(name="naive_record_outcome")
    async def record_outcome(self, outcome: NaiveOutcome) -> None:
        await asyncio.to_thread(
            activitylog.record_outcome,
            self._engine,
            outcome.step.connection_id,
            outcome.step.message_id,
            outcome.outcome,
            outcome.reason,
            outcome.items_created,
        )

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.check_folder, self.fetch_message, self.match, self.create_items, self.record_outcome]
