"""Boards the caller sees (their own, and those shared with the account): create, list, show, change, and
their items."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from boards import access, service
from boards.change_plan import ChangeRejected
from boards.change_schemas import BoardChange, BoardChangedPublic
from boards.changes import ItemsInTheWay, change_board
from boards.schemas import BoardCreate, BoardPublic, BoardsPublic, ItemsPublic
from db.accounts import Role, User
from db.recipes import RecipeRow
from recipes.affected import affected_recipes

router = APIRouter(prefix="/api/boards", tags=["boards"])


def account_board(session: Session, user: User, board_id: uuid.UUID) -> BoardPublic:
    """A board the caller sees (boards.access): their own, or one shared with the account. Another
    member's private board and another account's board are indistinguishable from a missing one."""
    board = access.visible_board(session, user, board_id)
    if board is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="board not found")
    return board


@router.post("", status_code=status.HTTP_201_CREATED)
def create_board(body: BoardCreate, session: SessionDep, user: CurrentUser) -> BoardPublic:
    """Creates a board with its groups and typed columns, owned by the caller; `visibility` "private"
    (the default: only the caller sees it) or "account" (every member of the account)."""
    board = service.create_board(session, user.account_id, body, owner_id=user.id)
    session.commit()
    return board


@router.get("")
def list_boards(session: SessionDep, user: CurrentUser) -> BoardsPublic:
    """The boards the caller sees (their own and the account's shared ones), oldest first."""
    boards = access.visible_boards(session, user)
    return BoardsPublic(data=boards, count=len(boards))


@router.get("/{board_id}")
def get_board(board_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> BoardPublic:
    """One board with its groups and columns."""
    return account_board(session, user, board_id)


def _changeable(session: Session, user: User, board_id: uuid.UUID, body: BoardChange) -> None:
    """404 unless the caller sees the board, 403 unless they may change it, 409 when making it private
    would take it from other members' recipes."""
    row = access.visible_row(session, user, board_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="board not found")
    if not access.may_change(row, user):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="only the board's owner or an admin may change the board itself; "
            "you may add and change its items",
        )
    if body.visibility == "private" and row.visibility != "private":
        # Who would lose it: everyone but its owner; for a board without an owner, everyone but admins.
        losing = (
            RecipeRow.owner_id != row.owner_id
            if row.owner_id is not None
            else RecipeRow.owner_id.in_(select(User.id).where(User.role != Role.admin.value))
        )
        others = session.scalar(
            select(func.count()).select_from(RecipeRow).where(RecipeRow.board_id == board_id, losing)
        )
        if others:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"{others} recipe(s) of other members use this board; it stays shared with the "
                "account until they no longer do",
            )


@router.patch("/{board_id}")
def patch_board(
    board_id: uuid.UUID, body: BoardChange, session: SessionDep, user: CurrentUser
) -> BoardChangedPublic:
    """Renames the board; adds, renames and removes groups and columns; sets a status column's labels;
    shares it with the account or makes it private. All or nothing. The board's owner or an admin only.
    A change that leaves recipes not fitting the board is made, and the answer names the caller's."""
    _changeable(session, user, board_id, body)
    try:
        changed = change_board(session, user.account_id, board_id, body)
    except ChangeRejected as err:
        session.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"type": "value_error", "loc": ["body", *err.loc], "msg": err.msg}],
        ) from None
    except ItemsInTheWay as err:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from None
    if changed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="board not found")
    board, plan = changed
    affected = affected_recipes(session, board, plan.renamed)
    session.commit()
    return BoardChangedPublic(
        **board.model_dump(),
        affected_recipes=[a for owner, a in affected if owner == user.id],
        other_members_affected_recipes=sum(1 for owner, _ in affected if owner != user.id),
    )


@router.get("/{board_id}/items")
def list_items(
    board_id: uuid.UUID,
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ItemsPublic:
    """The board's items, oldest first, with column values keyed by column title and their updates."""
    board = account_board(session, user, board_id)
    items = service.list_items(session, board, limit=limit, offset=offset)
    return ItemsPublic(items=items, count=len(items))
