"""Which destination a recipe writes to: the built-in board store, or monday.com when the account linked
it. The message workflow does not care which; its activities ask here."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from boards.destination import Destination
from payloads.messages import RECIPE_BROKEN
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe


class Destinations:
    def __init__(self, builtin: Destination, monday: Destination | None = None) -> None:
        self._builtin = builtin
        self._monday = monday

    def for_recipe(self, recipe: Recipe) -> Destination:
        action = recipe.action
        if not isinstance(action, CreateItemAction | CreateUpdateAction):
            raise ApplicationError(
                f"recipe {recipe.name!r} does not write to a board", type=RECIPE_BROKEN, non_retryable=True
            )
        if action.destination == "monday":
            if self._monday is None:
                raise ApplicationError(
                    f"recipe {recipe.name!r} writes to monday.com, which this worker cannot reach",
                    type=RECIPE_BROKEN,
                    non_retryable=True,
                )
            return self._monday
        return self._builtin
