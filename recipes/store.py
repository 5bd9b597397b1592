"""Recipes in the application database, through a Session."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.recipes import RecipeRow
from recipes.model import Recipe, RecipeSpec


def to_recipe(row: RecipeRow) -> Recipe:
    return Recipe.model_validate(
        {
            **json.loads(row.definition),
            "id": str(row.id),
            "connection_id": str(row.connection_id),
            "owner_id": str(row.owner_id),
            "name": row.name,
            "enabled": row.enabled,
        }
    )


def spec_json(spec: RecipeSpec) -> str:
    return spec.model_dump_json(by_alias=True)


def recipes_for_connection(session: Session, connection_id: str) -> list[Recipe]:
    """The connection's enabled incoming (email_received) recipes, oldest first (a stable order for
    matching): what the message path reads. Outgoing recipes are found by their board instead."""
    rows = session.scalars(
        select(RecipeRow)
        .where(RecipeRow.connection_id == uuid.UUID(connection_id), RecipeRow.enabled.is_(True))
        .order_by(RecipeRow.created_at, RecipeRow.id)
    ).all()
    return [recipe for recipe in map(to_recipe, rows) if recipe.incoming]


def outgoing_recipes_for_board(session: Session, board_id: str | uuid.UUID) -> list[Recipe]:
    """The enabled outgoing recipes (item_created, column_changed) watching this built-in board, oldest
    first: what a board event is matched against."""
    board = board_id if isinstance(board_id, uuid.UUID) else uuid.UUID(board_id)
    rows = session.scalars(
        select(RecipeRow)
        .where(RecipeRow.board_id == board, RecipeRow.enabled.is_(True))
        .order_by(RecipeRow.created_at, RecipeRow.id)
    ).all()
    return [recipe for recipe in map(to_recipe, rows) if not recipe.incoming]


def outgoing_recipe(session: Session, recipe_id: uuid.UUID) -> list[Recipe]:
    """The recipe when it is enabled and outgoing ([] otherwise): what a monday.com event, which came
    through that recipe's own webhook, is matched against."""
    row = session.get(RecipeRow, recipe_id)
    if row is None or not row.enabled:
        return []
    recipe = to_recipe(row)
    return [] if recipe.incoming else [recipe]


def _board_column(spec: RecipeSpec) -> uuid.UUID | None:
    # Outgoing: the watched board; incoming: the built-in board written to; monday.com: None.
    board_id = spec.builtin_board_id()
    return uuid.UUID(board_id) if board_id is not None else None


def add_recipe(
    session: Session,
    *,
    connection_id: uuid.UUID,
    owner_id: uuid.UUID,
    name: str,
    enabled: bool,
    spec: RecipeSpec,
) -> RecipeRow:
    row = RecipeRow(
        id=uuid.uuid4(),
        connection_id=connection_id,
        owner_id=owner_id,
        board_id=_board_column(spec),
        name=name,
        enabled=enabled,
        definition=spec_json(spec),
    )
    session.add(row)
    session.flush()
    return row


def set_spec(row: RecipeRow, spec: RecipeSpec) -> None:
    row.board_id = _board_column(spec)
    row.definition = spec_json(spec)


def spec_of(row: RecipeRow) -> RecipeSpec:
    return RecipeSpec.model_validate(json.loads(row.definition))


def owned_recipes(
    session: Session, owner_id: uuid.UUID, connection_id: uuid.UUID | None = None
) -> list[RecipeRow]:
    query = select(RecipeRow).where(RecipeRow.owner_id == owner_id)
    if connection_id is not None:
        query = query.where(RecipeRow.connection_id == connection_id)
    return list(session.scalars(query.order_by(RecipeRow.created_at, RecipeRow.id)).all())


def owned_recipe(session: Session, owner_id: uuid.UUID, recipe_id: uuid.UUID) -> RecipeRow | None:
    row = session.get(RecipeRow, recipe_id)
    return row if row is not None and row.owner_id == owner_id else None
