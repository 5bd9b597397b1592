"""Does a recipe fit its built-in board? Pure: the board is passed in, as the API shows it.

Each check returns Problems (where in the request body, and why) instead of raising, so one save reports
everything that is wrong at once. Titles are compared exactly: a template's {column:Email} looks the
column up by that exact title when it renders.
"""

from __future__ import annotations

from pydantic import BaseModel

from boards.schemas import BoardPublic
from recipes.model import (
    ColumnChangedTrigger,
    CreateItemAction,
    CreateUpdateAction,
    ItemCreatedTrigger,
    RecipeSpec,
    SendEmailAction,
)
from recipes.templates import column_titles


class Problem(BaseModel):
    """One validation problem: where in the request body, and why."""

    loc: tuple[str, ...]
    msg: str


def _no_board(loc: tuple[str, ...], board_id: str) -> Problem:
    return Problem(
        loc=loc,
        msg=f"no board {board_id} in your account that you may write to (yours, or shared with the account)",
    )


def _no_column(loc: tuple[str, ...], board: BoardPublic, title: str) -> Problem:
    known = ", ".join(c.title for c in board.columns) or "none"
    return Problem(loc=loc, msg=f"board {board.name!r} has no column {title!r}; its columns: {known}")


def _has_column(board: BoardPublic, title: str) -> bool:
    return any(c.title == title for c in board.columns)


def board_problems(action: CreateItemAction, board: BoardPublic | None) -> list[Problem]:
    """create_item: the board, its group and every mapped column exist."""
    if board is None:
        return [_no_board(("action", "board_id"), action.board_id)]
    problems = []
    groups = [g.title for g in board.groups]
    if action.group not in groups:
        problems.append(
            Problem(
                loc=("action", "group"),
                msg=f"board {board.name!r} has no group {action.group!r}; its groups: {', '.join(groups)}",
            )
        )
    for title in action.columns:
        if not _has_column(board, title):
            problems.append(_no_column(("action", "columns", title), board, title))
    return problems


def update_problems(action: CreateUpdateAction, board: BoardPublic | None) -> list[Problem]:
    """create_update: the board and the column the item is found by exist."""
    if board is None:
        return [_no_board(("action", "board_id"), action.board_id)]
    if not _has_column(board, action.find.column):
        return [_no_column(("action", "find", "column"), board, action.find.column)]
    return []


def trigger_problems(
    trigger: ItemCreatedTrigger | ColumnChangedTrigger, board: BoardPublic | None
) -> list[Problem]:
    """item_created / column_changed: the watched board exists, and so does the watched column; a
    status column's `to` is one of its labels (ignoring case, as the trigger compares)."""
    if board is None:
        return [_no_board(("trigger", "board_id"), trigger.board_id)]
    if not isinstance(trigger, ColumnChangedTrigger):
        return []
    column = next((c for c in board.columns if c.title == trigger.column), None)
    if column is None:
        return [_no_column(("trigger", "column"), board, trigger.column)]
    labels = status_labels(board, trigger.column)
    if trigger.to is not None and labels and trigger.to.casefold() not in {la.casefold() for la in labels}:
        return [
            Problem(
                loc=("trigger", "to"),
                msg=f"status column {trigger.column!r} of board {board.name!r} has no label {trigger.to!r}; "
                f"its labels: {', '.join(labels)}",
            )
        ]
    return []


def status_labels(board: BoardPublic, title: str) -> list[str]:
    """The labels of the board's status column of that title; [] for another type or no such column."""
    column = next((c for c in board.columns if c.title == title), None)
    return list(column.labels) if column is not None and column.type == "status" else []


def send_email_problems(action: SendEmailAction, board: BoardPublic | None) -> list[Problem]:
    """send_email: every {column:X} in to, subject and body names a column of the watched board."""
    if board is None:
        return []  # the trigger's check reports the missing board
    problems = []
    for field, template in (("to", action.to), ("subject", action.subject), ("body", action.body)):
        for title in dict.fromkeys(column_titles(template)):
            if not _has_column(board, title):
                problems.append(_no_column(("action", field), board, title))
    return problems


def spec_problems(spec: RecipeSpec, board: BoardPublic | None) -> list[Problem]:
    """Everything about the recipe that does not fit its built-in board (`board`: the one
    spec.builtin_board_id() names, None when it is not in the account). A monday.com board is not
    checked here: api/monday_triggers.py checks it against monday.com with these same functions."""
    problems: list[Problem] = []
    trigger, action = spec.trigger, spec.action
    if isinstance(trigger, ItemCreatedTrigger | ColumnChangedTrigger) and trigger.source == "builtin":
        problems += trigger_problems(trigger, board)
    if isinstance(action, CreateItemAction) and action.destination == "builtin":
        problems += board_problems(action, board)
    elif isinstance(action, CreateUpdateAction) and action.destination == "builtin":
        problems += update_problems(action, board)
    elif isinstance(action, SendEmailAction):
        problems += send_email_problems(action, board)
    return problems
