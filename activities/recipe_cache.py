"""A connection's enabled incoming recipes, read once per connection and worker for a short while.

The steps of one message read the recipes within a second or so of each other; reading the database
(in a thread) at every step would cost a round trip each. A recipe changed meanwhile applies to the
next message.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine

from db.engine import session_scope
from recipes.model import Recipe
from recipes.store import recipes_for_connection

RECIPES_FRESH_FOR = 2.0
# Bounded: beyond this many connections, those not seen lately are forgotten.
MAX_CONNECTIONS = 10_000


class RecipeCache:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._read: dict[str, tuple[float, list[Recipe]]] = {}

    async def incoming(self, connection_id: str) -> list[Recipe]:
        """From this worker's last read if it is fresh (no thread hop), else from the database."""
        read = self._read.get(connection_id)
        if read is not None and time.monotonic() - read[0] < RECIPES_FRESH_FOR:
            return read[1]
        return await asyncio.to_thread(self._load, connection_id)

    async def find(self, connection_id: str, recipe_id: str) -> Recipe | None:
        return next((r for r in await self.incoming(connection_id) if r.id == recipe_id), None)

    def _load(self, connection_id: str) -> list[Recipe]:
        now = time.monotonic()
        with session_scope(self._engine) as session:
            recipes = recipes_for_connection(session, connection_id)
        if len(self._read) > MAX_CONNECTIONS:
            self._read = {k: v for k, v in self._read.items() if now - v[0] < RECIPES_FRESH_FOR}
        self._read[connection_id] = (now, recipes)
        return recipes
