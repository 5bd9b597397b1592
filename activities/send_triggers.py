"""Whether an outgoing recipe's trigger matches a board event. Pure: the API's forwarder asks it to pick
the recipes to signal, and the render step asks again (the recipe may have changed meanwhile)."""

from __future__ import annotations

from db.board_events import BoardEvent
from recipes.model import ColumnChangedTrigger, ItemCreatedTrigger, Recipe


def _same(a: str | None, b: str | None) -> bool:
    # Column titles and status values are compared as people read them: case and outer spaces ignored.
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _source_and_board(event: BoardEvent) -> tuple[str, str | None]:
    if event.board_id is None:
        return "monday", event.monday_board_id
    return "builtin", str(event.board_id)


def trigger_matches(recipe: Recipe, event: BoardEvent) -> bool:
    """Same source (built-in or monday.com), same board, and for column_changed the same column (by
    title) and, with `to`, the new value (a monday status's label text)."""
    trigger = recipe.trigger
    if not isinstance(trigger, ItemCreatedTrigger | ColumnChangedTrigger):
        return False
    if (trigger.source, trigger.board_id) != _source_and_board(event):
        return False
    if isinstance(trigger, ItemCreatedTrigger):
        return event.kind == "item_created"
    if event.kind != "column_changed" or not _same(event.column, trigger.column):
        return False
    return trigger.to is None or _same(event.new_value, trigger.to)
