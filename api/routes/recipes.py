"""The caller's recipes: per connection, owned by the connection's user. Every kind (incoming
email_received -> create_item / create_update; outgoing item_created / column_changed -> send_email)
is created, changed and listed here; whatever keeps a recipe from working answers 422 before it is saved.
A committed change that can move the connection's subscription to another resource (an incoming recipe
watching a folder other than the inbox) is signalled to the connection's workflow after the answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from api.monday_recipe_hooks import check_monday_board, forget_monday_webhooks, watch_monday_board
from api.permission_deps import require_integration_creator
from api.recipe_signals import moves_subscription, signal_recipes_changed
from api.routes.connections import owned_connection
from db.accounts import User
from db.connections import Connection
from db.recipes import RecipeRow
from recipes import store
from recipes.attention import needs_attention
from recipes.board_check import Problem
from recipes.checks import save_problems
from recipes.model import RecipeSpec
from recipes.schemas import RecipeCreate, RecipePublic, RecipesPublic, RecipeUpdate

router = APIRouter(prefix="/api/recipes", tags=["recipes"])


def unprocessable(problems: Sequence[Problem]) -> HTTPException:
    """FastAPI's own 422 shape: a list of {type, loc, msg}, loc starting at "body"."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"type": "value_error", "loc": ["body", *p.loc], "msg": p.msg} for p in problems],
    )


def _check(session: Session, spec: RecipeSpec, connection: Connection) -> None:
    problems = save_problems(session, spec, connection)
    if problems:
        raise unprocessable(problems)


def _check_remote(request: Request, session: Session, account_id: uuid.UUID, spec: RecipeSpec) -> None:
    # A monday.com board is checked at monday.com (api/monday_recipe_hooks.py).
    problems = check_monday_board(request, session, account_id, spec)
    if problems:
        raise unprocessable(problems)


def _merged(spec: RecipeSpec, body: RecipeUpdate) -> RecipeSpec:
    """The stored spec with the given trigger and/or action replaced; 422 when they no longer pair."""
    merged: dict[str, Any] = {
        "trigger": body.trigger if body.trigger is not None else spec.trigger,
        "action": body.action if body.action is not None else spec.action,
    }
    try:
        return RecipeSpec.model_validate(merged)
    except ValidationError as err:
        raise unprocessable(
            [Problem(loc=tuple(str(p) for p in e["loc"]), msg=e["msg"]) for e in err.errors()]
        ) from None


def _tell_workflow(
    request: Request, background: BackgroundTasks, connection_id: uuid.UUID, *specs: RecipeSpec | None
) -> None:
    """After the answer (best effort: the connection's next renewal checks the same)."""
    if moves_subscription(*specs):
        temporal = getattr(request.app.state, "temporal_client", None)
        background.add_task(signal_recipes_changed, temporal, connection_id)


def _owned(session: Session, user: User, recipe_id: uuid.UUID) -> RecipeRow:
    row = store.owned_recipe(session, user.id, recipe_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="recipe not found")
    return row


@router.post("", status_code=status.HTTP_201_CREATED)
def create_recipe(
    body: RecipeCreate, session: SessionDep, user: CurrentUser, request: Request, background: BackgroundTasks
) -> RecipePublic:
    """Creates a recipe on one of the caller's connections (403 unless the account lets the caller create
    integrations)."""
    require_integration_creator(session, user)
    connection = owned_connection(session, user, body.connection_id)
    spec = body.spec()
    _check(session, spec, connection)
    _check_remote(request, session, connection.account_id, spec)
    row = store.add_recipe(
        session,
        connection_id=connection.id,
        owner_id=user.id,
        name=body.name,
        enabled=body.enabled,
        spec=spec,
    )
    session.commit()
    watch_monday_board(request, session, row, connection.account_id, created=True)
    if row.enabled:
        _tell_workflow(request, background, connection.id, spec)
    return RecipePublic.of(row)


@router.get("")
def list_recipes(
    session: SessionDep,
    user: CurrentUser,
    connection_id: Annotated[uuid.UUID | None, Query(description="only this connection's")] = None,
) -> RecipesPublic:
    """The caller's recipes, oldest first."""
    rows = store.owned_recipes(session, user.id, connection_id)
    attention = needs_attention(session, user.account_id, rows)
    return RecipesPublic(data=[RecipePublic.of(r, attention.get(r.id)) for r in rows], count=len(rows))


@router.get("/{recipe_id}")
def get_recipe(recipe_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> RecipePublic:
    """One of the caller's recipes."""
    row = _owned(session, user, recipe_id)
    return RecipePublic.of(row, needs_attention(session, user.account_id, [row]).get(row.id))


@router.patch("/{recipe_id}")
def update_recipe(
    recipe_id: uuid.UUID,
    body: RecipeUpdate,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    background: BackgroundTasks,
) -> RecipePublic:
    """Changes the given fields; a new trigger or action is checked like on creation. Changing what the
    recipe does or enabling it is saving an integration (403 unless the account lets the caller);
    disabling or renaming it is always allowed."""
    row = _owned(session, user, recipe_id)
    if body.trigger is not None or body.action is not None or (body.enabled and not row.enabled):
        require_integration_creator(session, user)
    before = store.spec_of(row) if row.enabled else None
    if body.trigger is not None or body.action is not None:
        spec = _merged(store.spec_of(row), body)
        _check(session, spec, owned_connection(session, user, row.connection_id))
        _check_remote(request, session, user.account_id, spec)
        store.set_spec(row, spec)
    if body.name is not None:
        row.name = body.name
    if body.enabled is not None:
        row.enabled = body.enabled
    session.commit()
    watch_monday_board(request, session, row, user.account_id, created=False)
    after = store.spec_of(row) if row.enabled else None
    _tell_workflow(request, background, row.connection_id, before, after)
    return RecipePublic.of(row, needs_attention(session, user.account_id, [row]).get(row.id))


@router.delete("/{recipe_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_recipe(
    recipe_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    background: BackgroundTasks,
) -> Response:
    """Deletes a recipe; items it created stay on their board."""
    row = _owned(session, user, recipe_id)
    connection_id, before = row.connection_id, store.spec_of(row) if row.enabled else None
    session.delete(row)
    session.commit()
    forget_monday_webhooks(request, session, recipe_id, user.account_id)
    _tell_workflow(request, background, connection_id, before)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
