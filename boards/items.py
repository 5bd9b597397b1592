"""Writing items on a Session, for the API and the board store alike: create, change, add an update.

Each function only adds to the caller's transaction (and flushes); the caller commits. Everything is
checked before anything is written, and the board event is written beside the change, so a failure
leaves neither. Raises BoardStoreError subclasses whose messages name boards, groups and columns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from boards import events
from boards.columns import BoardColumns, find_group
from boards.errors import BoardStoreError
from boards.events import ColumnChange
from boards.sanitise import sanitise_html
from db.boards import Board, BoardItem, ItemUpdate

ITEM_NAME_MAX = 500
# Optimistic concurrency: a change computed from values another writer has since replaced is computed
# again, this many times at most (then the caller is told to retry).
CHANGE_ATTEMPTS = 10


class ItemBusy(BoardStoreError):
    """The item kept changing under this change (many writers at once); trying again will work."""


def _dump(values: Mapping[str, str | None]) -> str:
    # Cleared columns are left out: "no value" has one spelling.
    return json.dumps({k: v for k, v in values.items() if v is not None}, ensure_ascii=False, sort_keys=True)


def create_item(
    session: Session,
    board: Board,
    *,
    name: str,
    group: str | None,
    columns: Mapping[str, str | None],
    fit: bool = False,
    item_id: uuid.UUID | None = None,
) -> BoardItem:
    """Adds the item and its item_created event. `fit`: values come from an email (boards.values.fit)."""
    target = find_group(session, board, group)
    checked = BoardColumns.load(session, board).check(columns, fit=fit)
    item = BoardItem(
        id=item_id or uuid.uuid4(),
        board_id=board.id,
        group_id=target.id,
        name=name[:ITEM_NAME_MAX],
        column_values=_dump({column.key: value for column, value in checked.items()}),
    )
    session.add(item)
    session.flush()
    events.record_item_created(session, item)
    session.flush()
    return item


def change_item(
    session: Session,
    item: BoardItem,
    *,
    columns: Mapping[str, str | None],
    name: str | None = None,
    group: str | None = None,
) -> list[ColumnChange]:
    """Sets the given columns (and the name or group when given); one column_changed event per column
    whose value actually changed. Returns those changes."""
    board = session.get_one(Board, item.board_id)
    checked = BoardColumns.load(session, board).check(columns)
    group_id = item.group_id if group is None else find_group(session, board, group).id
    new_name = item.name if name is None else name[:ITEM_NAME_MAX]
    for _ in range(CHANGE_ATTEMPTS):
        # Read the stored values afresh (not the session's copy): they are what the UPDATE compares.
        before = session.scalar(select(BoardItem.column_values).where(BoardItem.id == item.id))
        if before is None:
            raise BoardStoreError(f"item {item.id} no longer exists")
        old: dict[str, str | None] = json.loads(before)
        new = dict(old)
        changes = []
        for column, value in checked.items():
            if old.get(column.key) != value:
                changes.append(ColumnChange(column.title, old.get(column.key), value))
            new[column.key] = value
        after = _dump(new)
        # Compare-and-set on the values read: a concurrent change in between makes this match no row
        # (PostgreSQL re-checks the condition after waiting for the other writer; SQLite serialises
        # writers), so no change is lost and no event describes a value that was not the one replaced.
        result = session.execute(
            update(BoardItem)
            .where(BoardItem.id == item.id, BoardItem.column_values == before)
            .values(column_values=after, name=new_name, group_id=group_id)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            events.record_column_changes(session, item, changes)
            session.flush()
            session.refresh(item)
            return changes
    raise ItemBusy(f"item {item.id} changed while this change was being made; try again")


def add_update(
    session: Session, item: BoardItem, body: str, *, update_id: uuid.UUID | None = None
) -> ItemUpdate:
    """Adds an update; its HTML is sanitised first."""
    row = ItemUpdate(id=update_id or uuid.uuid4(), item_id=item.id, body=sanitise_html(body))
    session.add(row)
    session.flush()
    return row
