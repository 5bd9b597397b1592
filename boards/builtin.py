"""The built-in board store as a Destination (boards/destination.py): what the message workflow's
activities call when a recipe writes to a built-in board. The store is sync (SQLAlchemy on an Engine):
every call runs in a worker thread, never on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from boards.destination import FileDraft, Written
from boards.draft import ItemDraft
from boards.errors import BoardNotFound
from boards.store import BoardStore
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe


def _board_id(recipe: Recipe) -> str:
    action = recipe.action
    if isinstance(action, CreateItemAction | CreateUpdateAction) and action.destination == "builtin":
        return action.board_id
    raise BoardNotFound(f"recipe {recipe.name!r} does not write to a built-in board")


class BuiltinBoards:
    def __init__(self, store: BoardStore) -> None:
        self._store = store

    async def item_for_thread(self, recipe: Recipe, thread_keys: Sequence[str]) -> str | None:
        return await asyncio.to_thread(self._store.item_for_thread, recipe.id, list(thread_keys))

    async def made_of(self, recipe: Recipe, message_id: str) -> str | None:
        return await asyncio.to_thread(self._store.made_of, recipe.id, message_id)

    async def create_item_once(
        self, recipe: Recipe, message_id: str, draft: ItemDraft, thread_keys: Sequence[str]
    ) -> Written:
        # Raises boards.destination.ThreadTaken when another message of the conversation won the race.
        item_id, created = await asyncio.to_thread(
            self._store.create_item_once,
            recipe_id=recipe.id,
            message_id=message_id,
            connection_id=recipe.connection_id,
            draft=draft,
            board_id=_board_id(recipe),
            thread_keys=list(thread_keys),
        )
        return Written(id=item_id, created=created)

    async def add_update_once(self, recipe: Recipe, message_id: str, item_id: str, body: str) -> Written:
        update_id, created = await asyncio.to_thread(
            self._store.add_update_once,
            recipe_id=recipe.id,
            message_id=message_id,
            connection_id=recipe.connection_id,
            item_id=item_id,
            body=body,
        )
        return Written(id=update_id, created=created)

    async def find_item(self, recipe: Recipe, column: str, value: str) -> str | None:
        return await asyncio.to_thread(self._store.find_item, _board_id(recipe), column, value)

    async def attach_files(self, recipe: Recipe, item_id: str, files: Sequence[FileDraft]) -> int:
        return await asyncio.to_thread(self._store.attach_files, item_id, list(files))
