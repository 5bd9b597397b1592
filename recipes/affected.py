"""Which recipes a board change leaves not fitting their board: every recipe whose built-in board this is
(incoming recipes writing to it, outgoing recipes watching it; enabled or not, since a disabled one
breaks the day it is enabled), checked with recipes.board_check.spec_problems against the board as it
now is. Renames are not carried into recipes (a template names a column by its exact title, and a
silent rewrite would change what a user wrote): the problems say so."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from boards.change_schemas import AffectedRecipe
from boards.schemas import BoardPublic
from db.recipes import RecipeRow
from recipes.board_check import spec_problems
from recipes.store import spec_of


def affected_recipes(
    session: Session, board: BoardPublic, renamed: list[tuple[str, str, str]]
) -> list[tuple[uuid.UUID, AffectedRecipe]]:
    """The board's recipes that no longer fit it with their owners, oldest first; `renamed`: (kind, old,
    new) titles. The API shows the caller only their own (a shared board's other recipes belong to other
    members)."""
    rows = session.scalars(
        select(RecipeRow).where(RecipeRow.board_id == board.id).order_by(RecipeRow.created_at, RecipeRow.id)
    ).all()
    affected = []
    for row in rows:
        problems = [p.msg for p in spec_problems(spec_of(row), board)]
        if not problems:
            continue
        for kind, old, new in renamed:
            if any(f"has no {kind} {old!r}" in p for p in problems):
                problems.append(
                    f"{kind} {old!r} was renamed to {new!r}; the recipe still names {old!r} "
                    f"(recipes are not rewritten: edit the recipe to use {new!r})"
                )
        affected.append((row.owner_id, AffectedRecipe(id=row.id, name=row.name, problems=problems)))
    return affected
