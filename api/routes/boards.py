"""Boards of the caller's account: create, list, show, change, and their items."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from boards import service
from boards.change_plan import ChangeRejected
from boards.change_schemas import BoardChange, BoardChangedPublic
from boards.changes import ItemsInTheWay, change_board
from boards.schemas import BoardCreate, BoardPublic, BoardsPublic, ItemsPublic
from db.accounts import User
from recipes.affected import affected_recipes

router = APIRouter(prefix="/api/boards", tags=["boards"])


def account_board(session: Session, user: User, board_id: uuid.UUID) -> BoardPublic:
    """A board of the caller's account; another account's board is indistinguishable from a missing one."""
    board = service.get_board(session, user.account_id, board_id)
    if board is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="board not found")
    return board


@router.post("", status_code=status.HTTP_201_CREATED)
def create_board(body: BoardCreate, session: SessionDep, user: CurrentUser) -> BoardPublic:
    """Creates a board with its groups and typed columns."""
    board = service.create_board(session, user.account_id, body)
    session.commit()
    return board


@router.get("")
def list_boards(session: SessionDep, user: CurrentUser) -> BoardsPublic:
    """The account's boards, oldest first."""
    boards = service.list_boards(session, user.account_id)
    return BoardsPublic(data=boards, count=len(boards))


@router.get("/{board_id}")
def get_board(board_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> BoardPublic:
    """One board with its groups and columns."""
    return account_board(session, user, board_id)


@router.patch("/{board_id}")
def patch_board(
    board_id: uuid.UUID, body: BoardChange, session: SessionDep, user: CurrentUser
) -> BoardChangedPublic:
    """Renames the board; adds, renames and removes groups and columns; sets a status column's labels. All
    or nothing. A change that leaves recipes not fitting the board is made, and the answer names them."""
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
    return BoardChangedPublic(**board.model_dump(), affected_recipes=affected)


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
