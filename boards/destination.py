"""Where an incoming recipe writes: the interface the message workflow's activities call, the same for the
built-in board store (boards/builtin.py) and a monday.com board (boards/monday/destination.py).

Every write is idempotent by (recipe, message): a retry, a crash or a replay returns what the first call
made, with created=False. Errors: a `boards.errors.BoardStoreError` when the board no longer fits the
recipe (retrying cannot help); anything else is retried by the workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

from boards.draft import ItemDraft
from recipes.model import Recipe


class FileDraft(BaseModel):
    """An attachment to put on an item: already size-checked and with a sanitised name."""

    name: str
    content_type: str
    content: bytes


class Written(BaseModel):
    # The destination's id of the item or update.
    id: str
    # False when the recipe had already made it of this message.
    created: bool


class ThreadTaken(Exception):
    """create_item_once found a thread key already recorded for another item of the recipe (two
    messages of one conversation at once): the caller makes an update on `item_id` instead."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"the conversation already has item {item_id}")
        self.item_id = item_id


class Destination(Protocol):
    async def item_for_thread(self, recipe: Recipe, thread_keys: Sequence[str]) -> str | None:
        """The item this recipe made for any of these thread keys ("conversation:<id>", "message:<id>")."""
        ...

    async def made_of(self, recipe: Recipe, message_id: str) -> str | None:
        """What the recipe made (or claimed to make) of the message: "item", "update", or None."""
        ...

    async def create_item_once(
        self, recipe: Recipe, message_id: str, draft: ItemDraft, thread_keys: Sequence[str]
    ) -> Written:
        """Creates the item (once per recipe and message) and records the thread keys as its; raises
        ThreadTaken when a key already belongs to another item of the recipe."""
        ...

    async def add_update_once(self, recipe: Recipe, message_id: str, item_id: str, body: str) -> Written:
        """Adds an update on an item (once per recipe and message)."""
        ...

    async def find_item(self, recipe: Recipe, column: str, value: str) -> str | None:
        """The oldest item of the recipe's board whose column equals value (case-insensitive, trimmed)."""
        ...

    async def attach_files(self, recipe: Recipe, item_id: str, files: Sequence[FileDraft]) -> int:
        """Puts the files on the item unless they are already there (by name); how many it added."""
        ...
