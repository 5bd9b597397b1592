"""Whether an outgoing recipe's trigger matches a board event. Pure: the API's forwarder asks it to pick
the recipes to signal, and the render step asks again (the recipe may have changed meanwhile)."""

from __future__ import annotations

from db.board_events import BoardEvent
from recipes.model import ColumnChangedTrigger, ItemCreatedTrigger, Recipe


def _same(a: str | None, b: str | None) -> bool:
    # Column titles and status values are compared as people read them: case and outer spaces ignored.
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def trigger_matches(recipe: Recipe, event: BoardEvent) -> bool:
    trigger = recipe.trigger
    if str(event.board_id) != getattr(trigger, "board_id", None):
        return False
    if isinstance(trigger, ItemCreatedTrigger):
        return event.kind == "item_created"
    if isinstance(trigger, ColumnChangedTrigger):
        if event.kind != "column_changed" or not _same(event.column, trigger.column):
            return False
        return trigger.to is None or _same(event.new_value, trigger.to)
    return False
