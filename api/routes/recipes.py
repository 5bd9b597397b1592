"""The caller's recipes: per connection, owned by the connection's user."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from api.routes.connections import owned_connection
from boards import service as boards
from db.accounts import User
from db.recipes import RecipeRow
from recipes import store
from recipes.board_check import board_problems
from recipes.model import CreateItemAction, RecipeSpec
from recipes.schemas import RecipeCreate, RecipePublic, RecipesPublic, RecipeUpdate

router = APIRouter(prefix="/api/recipes", tags=["recipes"])


def _check_board(session: Session, user: User, action: CreateItemAction) -> None:
    """422 in FastAPI's shape, naming the field, when the action does not fit a board of the account."""
    board = boards.get_board(session, user.account_id, uuid.UUID(action.board_id))
    problems = board_problems(action, board)
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"type": "value_error", "loc": ["body", *p.loc], "msg": p.msg} for p in problems],
        )


def _owned(session: Session, user: User, recipe_id: uuid.UUID) -> RecipeRow:
    row = store.owned_recipe(session, user.id, recipe_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="recipe not found")
    return row


@router.post("", status_code=status.HTTP_201_CREATED)
def create_recipe(body: RecipeCreate, session: SessionDep, user: CurrentUser) -> RecipePublic:
    """Creates a recipe on one of the caller's connections."""
    connection = owned_connection(session, user, body.connection_id)
    _check_board(session, user, body.action)
    row = store.add_recipe(
        session,
        connection_id=connection.id,
        owner_id=user.id,
        name=body.name,
        enabled=body.enabled,
        spec=RecipeSpec(trigger=body.trigger, action=body.action),
    )
    session.commit()
    return RecipePublic.of(row)


@router.get("")
def list_recipes(
    session: SessionDep,
    user: CurrentUser,
    connection_id: Annotated[uuid.UUID | None, Query(description="only this connection's")] = None,
) -> RecipesPublic:
    """The caller's recipes, oldest first."""
    rows = store.owned_recipes(session, user.id, connection_id)
    return RecipesPublic(data=[RecipePublic.of(r) for r in rows], count=len(rows))


@router.get("/{recipe_id}")
def get_recipe(recipe_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> RecipePublic:
    """One of the caller's recipes."""
    return RecipePublic.of(_owned(session, user, recipe_id))


@router.patch("/{recipe_id}")
def update_recipe(
    recipe_id: uuid.UUID, body: RecipeUpdate, session: SessionDep, user: CurrentUser
) -> RecipePublic:
    """Changes the given fields; a new action is checked against its board like on creation."""
    row = _owned(session, user, recipe_id)
    spec = store.spec_of(row)
    if body.trigger is not None:
        spec = RecipeSpec(trigger=body.trigger, action=spec.action)
    if body.action is not None:
        _check_board(session, user, body.action)
        spec = RecipeSpec(trigger=spec.trigger, action=body.action)
    store.set_spec(row, spec)
    if body.name is not None:
        row.name = body.name
    if body.enabled is not None:
        row.enabled = body.enabled
    session.commit()
    return RecipePublic.of(row)


@router.delete("/{recipe_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_recipe(recipe_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Response:
    """Deletes a recipe; items it created stay on their board."""
    session.delete(_owned(session, user, recipe_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
