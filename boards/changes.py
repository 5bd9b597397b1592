"""PATCH /api/boards/{id}, the database half: a plan (boards/change_plan.py) written in the caller's
transaction, so a failure midway leaves nothing changed once the caller rolls back.

Items are never lost: a removed group's items move to the group the request names, or the change is
refused (ItemsInTheWay, 409) with how many items are in the way; the same for items holding a status
label the new labels leave out. A removed column's values go with it; the items stay.

The board's group and column rows are locked first (FOR UPDATE; SQLite serialises writers anyway), so an
item a recipe writes concurrently into a group being removed waits for this transaction and then fails
on the missing group (and is retried by its workflow) instead of being cascade-deleted with it.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from boards import service
from boards.change_plan import Plan, PlannedColumn, plan_changes
from boards.change_schemas import BoardChange
from boards.columns import settings_for
from boards.schemas import BoardPublic
from db.boards import Board, BoardColumn, BoardGroup, BoardItem


class ItemsInTheWay(ValueError):
    """The change would lose items or their labels; the message says how many and what to give."""


def change_board(
    session: Session, account_id: uuid.UUID, board_id: uuid.UUID, body: BoardChange
) -> tuple[BoardPublic, Plan] | None:
    """The board after the changes (flushed, not committed) and the plan; None when the account has no
    such board. Raises change_plan.ChangeRejected (422) or ItemsInTheWay (409) before writing."""
    row = session.scalars(select(Board).where(Board.id == board_id).with_for_update()).first()
    if row is None or row.account_id != account_id:
        return None
    groups = {
        g.id: g
        for g in session.scalars(select(BoardGroup).where(BoardGroup.board_id == board_id).with_for_update())
    }
    columns = {
        c.id: c
        for c in session.scalars(
            select(BoardColumn).where(BoardColumn.board_id == board_id).with_for_update()
        )
    }
    before = service.get_board(session, account_id, board_id)
    assert before is not None  # the row was just read under lock
    plan = plan_changes(before, body)
    rewrites = _item_rewrites(session, board_id, plan)
    _write(session, row, plan, groups, columns, rewrites)
    if body.visibility is not None:
        row.visibility = body.visibility
    after = service.get_board(session, account_id, board_id)
    assert after is not None
    return after, plan


def _item_rewrites(session: Session, board_id: uuid.UUID, plan: Plan) -> dict[uuid.UUID, str]:
    """Each item whose column values change (removed columns, relabelled status values) -> its new JSON;
    ItemsInTheWay when a removed group or a dropped label still holds items the request does not place."""
    in_the_way = _groups_in_the_way(session, plan)
    relabelled = [c for c in plan.columns if c.labels_changed and c.stored is not None]
    removed = {str(c) for c in plan.removed_columns}
    rewrites: dict[uuid.UUID, str] = {}
    stuck: Counter[tuple[str, str]] = Counter()
    if relabelled or removed:
        items = session.execute(
            select(BoardItem.id, BoardItem.column_values).where(BoardItem.board_id == board_id)
        )
        for item_id, raw in items:
            values: dict[str, Any] = json.loads(raw or "{}")
            changed = False
            for key in removed & values.keys():
                del values[key]
                changed = True
            for column in relabelled:
                changed |= _relabel(values, column, stuck)
            if changed:
                rewrites[item_id] = json.dumps(values, ensure_ascii=False)
    for (title, label), count in stuck.items():
        in_the_way.append(
            f"{count} item(s) have the label {label!r} of column {title!r}, which the new labels leave out: "
            f'map it with "relabel": {{"{label}": "<new label>"}} (or null to clear it)'
        )
    if in_the_way:
        raise ItemsInTheWay("; ".join(in_the_way))
    return rewrites


def _groups_in_the_way(session: Session, plan: Plan) -> list[str]:
    ids = [g.id for g in plan.removed_groups]
    if not ids:
        return []
    counts: dict[uuid.UUID, int] = {
        group_id: count
        for group_id, count in session.execute(
            select(BoardItem.group_id, func.count())
            .where(BoardItem.group_id.in_(ids))
            .group_by(BoardItem.group_id)
        )
    }
    return [
        f"group {g.title!r} has {counts[g.id]} item(s): give "
        f'"move_items_to": "<group>" to move them (items are never deleted by a board change)'
        for g in plan.removed_groups
        if counts.get(g.id) and g.move_to_id is None
    ]


def _relabel(values: dict[str, Any], column: PlannedColumn, stuck: Counter[tuple[str, str]]) -> bool:
    key = str(column.id)
    value = values.get(key)
    if not isinstance(value, str) or not value:
        return False
    canonical = {label.casefold(): label for label in column.labels}
    folded = value.casefold()
    if folded in canonical:
        new: str | None = canonical[folded]  # the same label, maybe re-cased: stored as the board spells it
    elif folded in column.relabel:
        new = column.relabel[folded]
    else:
        stuck[(column.stored or column.title, value)] += 1
        return False
    if new == value:
        return False
    if new is None:
        del values[key]
    else:
        values[key] = new
    return True


def _write(
    session: Session,
    board: Board,
    plan: Plan,
    groups: dict[uuid.UUID, BoardGroup],
    columns: dict[uuid.UUID, BoardColumn],
    rewrites: dict[uuid.UUID, str],
) -> None:
    kept_groups = {g.id: g for g in plan.groups if g.stored is not None}
    kept_columns = {c.id: c for c in plan.columns if c.stored is not None}
    # Titles are unique per board and checked per statement: every row whose title changes or goes
    # first takes a placeholder, so swaps and "remove New, add New" never collide midway.
    for group_id, group_row in groups.items():
        if group_id not in kept_groups or kept_groups[group_id].title != group_row.title:
            group_row.title = f"(changing {group_id})"
    for column_id, column_row in columns.items():
        if column_id not in kept_columns or kept_columns[column_id].title != column_row.title:
            column_row.title = f"(changing {column_id})"
    session.flush()
    for position, g in enumerate(plan.groups):
        if g.stored is None:
            session.add(BoardGroup(id=g.id, board_id=board.id, title=g.title, position=position))
    for position, c in enumerate(plan.columns):
        if c.stored is None:
            session.add(
                BoardColumn(
                    id=c.id,
                    board_id=board.id,
                    title=c.title,
                    type=c.type,
                    position=position,
                    settings=settings_for(c.labels),
                )
            )
    session.flush()
    # Items move before their group goes: the foreign key would cascade-delete them.
    for removed in plan.removed_groups:
        if removed.move_to_id is not None:
            session.execute(
                update(BoardItem).where(BoardItem.group_id == removed.id).values(group_id=removed.move_to_id)
            )
    if rewrites:
        session.execute(update(BoardItem), [{"id": i, "column_values": v} for i, v in rewrites.items()])
    session.flush()
    for removed in plan.removed_groups:
        session.delete(groups[removed.id])
    for column_id in plan.removed_columns:
        session.delete(columns[column_id])
    session.flush()
    for position, g in enumerate(plan.groups):
        if g.stored is not None:
            groups[g.id].title, groups[g.id].position = g.title, position
    for position, c in enumerate(plan.columns):
        if c.stored is not None:
            row = columns[c.id]
            row.title, row.position = c.title, position
            if c.labels_changed:
                row.settings = settings_for(c.labels)
    board.name = plan.name
    session.flush()
