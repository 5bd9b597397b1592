"""Who sees and changes which built-in board. A board is `private` (its owner only) or `account` (every
member of its account). A board without an owner (made before boards had owners, which made it an
`account` board, or whose owner was deleted) is also seen by the account's admins, so that it can be
shared again or changed. Another account's board, and a board the caller may not see, are not found:
the API answers 404 for both, so a board's existence never leaks.

Seeing a board is writing to it (items, updates, recipes naming it); changing the board itself (name,
groups, columns, visibility) is for its owner and, on a board they see, the account's admins.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from boards import service
from boards.schemas import BoardPublic
from db.accounts import Role, User
from db.boards import Board, BoardItem


def visible_to(user: User) -> ColumnElement[bool]:
    """The boards `user` sees, as a WHERE clause."""
    shared = [Board.visibility == "account", Board.owner_id == user.id]
    if user.role == Role.admin.value:
        shared.append(Board.owner_id.is_(None))
    return and_(Board.account_id == user.account_id, or_(*shared))


def may_see(board: Board, user: User) -> bool:
    if board.account_id != user.account_id:
        return False
    if board.visibility == "account" or board.owner_id == user.id:
        return True
    return board.owner_id is None and user.role == Role.admin.value


def may_change(board: Board, user: User) -> bool:
    """Rename it, change its groups and columns, share it or make it private."""
    return may_see(board, user) and (board.owner_id == user.id or user.role == Role.admin.value)


def visible_row(session: Session, user: User, board_id: uuid.UUID) -> Board | None:
    row = session.get(Board, board_id)
    return row if row is not None and may_see(row, user) else None


def visible_board(session: Session, user: User, board_id: uuid.UUID) -> BoardPublic | None:
    return (
        service.get_board(session, user.account_id, board_id)
        if visible_row(session, user, board_id)
        else None
    )


def visible_boards(session: Session, user: User) -> list[BoardPublic]:
    """The boards `user` sees, oldest first."""
    ids = session.scalars(select(Board.id).where(visible_to(user)).order_by(Board.created_at, Board.id)).all()
    found = service.get_boards(session, user.account_id, ids)
    return [found[i] for i in ids if i in found]


def visible_item(session: Session, user: User, item_id: uuid.UUID) -> tuple[BoardItem, BoardPublic] | None:
    """An item of a board `user` sees, with its board."""
    item = session.get(BoardItem, item_id)
    if item is None:
        return None
    board = visible_board(session, user, item.board_id)
    return None if board is None else (item, board)
