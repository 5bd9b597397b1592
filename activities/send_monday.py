"""What a send_email recipe renders from when its event came from a monday.com board: the item's name,
board, group and column texts, read from monday.com (items(ids)) at render time, so the email shows the
item as it is now, as it does for built-in boards."""

from __future__ import annotations

from boards.monday.api import MondayApi
from db.board_events import BoardEvent
from recipes.templates import COLUMN_PREFIX


async def monday_values(api: MondayApi, event: BoardEvent) -> dict[str, str] | None:
    """The template values of the event's item; None when the item no longer exists. Raises
    boards.monday.errors types (the caller maps them with their retry semantics)."""
    assert event.monday_item_id is not None
    item = await api.item_facts(event.monday_item_id)
    if item is None:
        return None
    values = {
        "name": item.name,
        "board": item.board.name if item.board is not None else "",
        "group": item.group.title if item.group is not None else "",
        "item.id": item.id,
        "old_value": event.old_value or "",
        "new_value": event.new_value or "",
    }
    for value in item.column_values:
        if value.column.title:
            values[COLUMN_PREFIX + value.column.title] = value.text or ""
    return values
