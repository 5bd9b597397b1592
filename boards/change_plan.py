"""PATCH /api/boards/{id}, the pure half: the requested changes applied in order to the board as it is,
giving the board as it will be (or the first reason it cannot be). Nothing is written here; the
database half (boards/changes.py) writes the plan in one transaction.

Validation is board creation's: titles unique ignoring case, at least one group, the caps, a status
column's labels. Every problem names where in the body it is (loc) so the API answers 422 like FastAPI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TypeVar

from boards.change_schemas import (
    AddColumn,
    AddGroup,
    BoardChange,
    BoardChangeOp,
    RemoveColumn,
    RemoveGroup,
    RenameColumn,
    RenameGroup,
    SetLabels,
)
from boards.schemas import MAX_COLUMNS, MAX_GROUPS, BoardPublic


class ChangeRejected(ValueError):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


@dataclass
class PlannedGroup:
    id: uuid.UUID
    title: str
    # The stored title; None for a group this request adds.
    stored: str | None


@dataclass
class PlannedColumn:
    id: uuid.UUID
    title: str
    type: str
    labels: list[str]
    stored: str | None
    # set_labels: the request's map of dropped labels (casefolded) to their new label (None: cleared).
    relabel: dict[str, str | None] = field(default_factory=dict)
    labels_changed: bool = False


@dataclass
class RemovedGroup:
    id: uuid.UUID
    title: str
    # The title given in the request; resolved against the final groups (move_to_id) once all are applied.
    move_items_to: str | None
    move_to_id: uuid.UUID | None = None
    loc: tuple[str | int, ...] = ()


@dataclass
class Plan:
    name: str
    groups: list[PlannedGroup]
    columns: list[PlannedColumn]
    removed_groups: list[RemovedGroup] = field(default_factory=list)
    removed_columns: list[uuid.UUID] = field(default_factory=list)
    # (kind, old title, new title) of stored groups and columns renamed: recipes are not rewritten.
    renamed: list[tuple[str, str, str]] = field(default_factory=list)


T = TypeVar("T", PlannedGroup, PlannedColumn)


def _find(rows: list[T], title: str) -> T | None:
    exact = next((r for r in rows if r.title == title), None)
    if exact is not None:
        return exact
    folded = title.casefold()
    return next((r for r in rows if r.title.casefold() == folded), None)


def _free(rows: list[T], title: str, what: str, loc: tuple[str | int, ...], keep: T | None = None) -> None:
    # Titles key the item's columns and the recipes' templates: "From" and "from" would be ambiguous.
    clash = next((r for r in rows if r is not keep and r.title.casefold() == title.casefold()), None)
    if clash is not None:
        raise ChangeRejected(
            loc, f"the board already has a {what} {clash.title!r} (titles must differ, ignoring case)"
        )


def _known(rows: list[PlannedGroup] | list[PlannedColumn]) -> str:
    return ", ".join(r.title for r in rows) or "none"


class _Planner:
    def __init__(self, board: BoardPublic) -> None:
        self.plan = Plan(
            name=board.name,
            groups=[PlannedGroup(g.id, g.title, g.title) for g in board.groups],
            columns=[PlannedColumn(c.id, c.title, c.type, list(c.labels), c.title) for c in board.columns],
        )

    def group(self, title: str, loc: tuple[str | int, ...]) -> PlannedGroup:
        found = _find(self.plan.groups, title)
        if found is None:
            raise ChangeRejected(loc, f"no group {title!r}; the groups are: {_known(self.plan.groups)}")
        return found

    def column(self, title: str, loc: tuple[str | int, ...]) -> PlannedColumn:
        found = _find(self.plan.columns, title)
        if found is None:
            raise ChangeRejected(loc, f"no column {title!r}; the columns are: {_known(self.plan.columns)}")
        return found

    def apply(self, change: BoardChangeOp, loc: tuple[str | int, ...]) -> None:
        plan = self.plan
        if isinstance(change, AddGroup):
            _free(plan.groups, change.title, "group", (*loc, "title"))
            plan.groups.append(PlannedGroup(uuid.uuid4(), change.title, None))
        elif isinstance(change, RenameGroup):
            group = self.group(change.group, (*loc, "group"))
            _free(plan.groups, change.title, "group", (*loc, "title"), keep=group)
            group.title = change.title
        elif isinstance(change, RemoveGroup):
            group = self.group(change.group, (*loc, "group"))
            plan.groups.remove(group)
            if group.stored is not None:
                plan.removed_groups.append(
                    RemovedGroup(group.id, group.stored, change.move_items_to, loc=loc)
                )
        elif isinstance(change, AddColumn):
            _free(plan.columns, change.title, "column", (*loc, "title"))
            plan.columns.append(
                PlannedColumn(uuid.uuid4(), change.title, change.type, list(change.labels), None)
            )
        elif isinstance(change, RenameColumn):
            column = self.column(change.column, (*loc, "column"))
            _free(plan.columns, change.title, "column", (*loc, "title"), keep=column)
            column.title = change.title
        elif isinstance(change, RemoveColumn):
            column = self.column(change.column, (*loc, "column"))
            plan.columns.remove(column)
            if column.stored is not None:
                plan.removed_columns.append(column.id)
        elif isinstance(change, SetLabels):
            self._labels(change, loc)

    def _labels(self, change: SetLabels, loc: tuple[str | int, ...]) -> None:
        column = self.column(change.column, (*loc, "column"))
        if column.type != "status":
            raise ChangeRejected(
                (*loc, "column"), f"only status columns have labels; {column.title!r} is {column.type}"
            )
        folded = [label.casefold() for label in change.labels]
        duplicate = next((la for i, la in enumerate(change.labels) if la.casefold() in folded[:i]), None)
        if duplicate is not None:
            raise ChangeRejected(
                (*loc, "labels"), f"duplicate label title {duplicate!r} (titles must differ, ignoring case)"
            )
        for old, new in change.relabel.items():
            if new is not None and new.casefold() not in folded:
                raise ChangeRejected(
                    (*loc, "relabel", old),
                    f"{new!r} is not one of the new labels: {', '.join(change.labels)}",
                )
        column.labels = list(change.labels)
        canonical = {label.casefold(): label for label in change.labels}
        # Stored as the board spells the label, whatever case the request used.
        column.relabel.update(
            {
                old.casefold(): None if new is None else canonical[new.casefold()]
                for old, new in change.relabel.items()
            }
        )
        column.labels_changed = True

    def finish(self) -> Plan:
        plan = self.plan
        if not plan.groups:
            raise ChangeRejected(("changes",), 'a board needs at least one group; add one, e.g. "New"')
        if len(plan.groups) > MAX_GROUPS:
            raise ChangeRejected(("changes",), f"a board has at most {MAX_GROUPS} groups")
        if len(plan.columns) > MAX_COLUMNS:
            raise ChangeRejected(("changes",), f"a board has at most {MAX_COLUMNS} columns")
        for removed in plan.removed_groups:
            if removed.move_items_to is None:
                continue
            target = _find(plan.groups, removed.move_items_to)
            if target is None:
                raise ChangeRejected(
                    (*removed.loc, "move_items_to"),
                    f"no group {removed.move_items_to!r} after this change; "
                    f"the groups will be: {_known(plan.groups)}",
                )
            removed.move_to_id = target.id
        for group in plan.groups:
            if group.stored is not None and group.title != group.stored:
                plan.renamed.append(("group", group.stored, group.title))
        for column in plan.columns:
            if column.stored is not None and column.title != column.stored:
                plan.renamed.append(("column", column.stored, column.title))
        return plan


def plan_changes(board: BoardPublic, body: BoardChange) -> Plan:
    """The board as it will be after the body's changes, in order; ChangeRejected names the first that
    cannot be made (nothing has been written)."""
    planner = _Planner(board)
    if body.name is not None:
        planner.plan.name = body.name
    for i, change in enumerate(body.changes):
        planner.apply(change, ("changes", i))
    return planner.finish()
