"""Does a create_item action fit its board? Pure: the board is passed in, as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel

from boards.schemas import BoardPublic
from recipes.model import CreateItemAction


class Problem(BaseModel):
    """One validation problem: where in the request body, and why."""

    loc: tuple[str, ...]
    msg: str


def board_problems(action: CreateItemAction, board: BoardPublic | None) -> list[Problem]:
    if board is None:
        return [Problem(loc=("action", "board_id"), msg=f"no board {action.board_id} in your account")]
    problems = []
    groups = [g.title for g in board.groups]
    if action.group not in groups:
        problems.append(
            Problem(
                loc=("action", "group"),
                msg=f"board {board.name!r} has no group {action.group!r}; its groups: {', '.join(groups)}",
            )
        )
    titles = [c.title for c in board.columns]
    for title in action.columns:
        if title not in titles:
            known = ", ".join(titles) or "none"
            problems.append(
                Problem(
                    loc=("action", "columns", title),
                    msg=f"board {board.name!r} has no column {title!r}; its columns: {known}",
                )
            )
    return problems
