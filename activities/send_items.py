"""What a send_email recipe renders from: the board event, its item and board, read in one session.
Sync (SQLAlchemy): the render step calls it in a thread."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.board_events import BoardEvent
from db.boards import Board, BoardColumn, BoardGroup, BoardItem
from db.connections import Connection
from db.engine import session_scope
from db.recipes import RecipeRow
from recipes.model import Recipe
from recipes.store import to_recipe
from recipes.templates import COLUMN_PREFIX


@dataclass(frozen=True)
class EventFacts:
    event: BoardEvent
    recipe: Recipe | None
    # None when the item was deleted after the event.
    values: dict[str, str] | None


def _values(session: Session, event: BoardEvent, item: BoardItem) -> dict[str, str]:
    board = session.get(Board, item.board_id)
    group = session.get(BoardGroup, item.group_id)
    columns = session.scalars(select(BoardColumn).where(BoardColumn.board_id == item.board_id)).all()
    stored: dict[str, object] = json.loads(item.column_values or "{}")
    values = {
        "name": item.name,
        "board": board.name if board is not None else "",
        "group": group.title if group is not None else "",
        "item.id": str(item.id),
        "old_value": event.old_value or "",
        "new_value": event.new_value or "",
    }
    for column in columns:
        value = stored.get(str(column.id))
        values[COLUMN_PREFIX + column.title] = "" if value is None else str(value)
    return values


def read_event(engine: Engine, event_id: str, recipe_id: str) -> EventFacts | None:
    """None when the event does not exist (any more)."""
    with session_scope(engine) as session:
        event = session.get(BoardEvent, uuid.UUID(event_id))
        if event is None:
            return None
        row = session.get(RecipeRow, uuid.UUID(recipe_id))
        recipe = to_recipe(row) if row is not None else None
        # A monday.com event's item is read from monday.com by the render step (values None here).
        item = session.get(BoardItem, event.item_id) if event.item_id is not None else None
        values = _values(session, event, item) if item is not None else None
        session.expunge(event)
        return EventFacts(event=event, recipe=recipe, values=values)


@dataclass(frozen=True)
class Sender:
    mailbox: str
    scopes: list[str]


def read_sender(engine: Engine, connection_id: str) -> Sender | None:
    with session_scope(engine) as session:
        row = session.get(Connection, uuid.UUID(connection_id))
        return None if row is None else Sender(mailbox=row.mailbox, scopes=row.scope_list)
