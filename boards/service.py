"""Boards of an account, read and written through a Session: what the API shows. Every function takes
the caller's account id, so another account's board is simply not found."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from boards.columns import labels_of, settings_for
from boards.schemas import (
    BoardCreate,
    BoardPublic,
    ColumnPublic,
    FilePublic,
    GroupPublic,
    ItemPublic,
    UpdatePublic,
)
from db.boards import Board, BoardColumn, BoardGroup, BoardItem, ItemUpdate
from db.item_files import ItemFile


def create_board(
    session: Session, account_id: uuid.UUID, body: BoardCreate, owner_id: uuid.UUID | None = None
) -> BoardPublic:
    board = Board(
        id=uuid.uuid4(), account_id=account_id, name=body.name, owner_id=owner_id, visibility=body.visibility
    )
    session.add(board)
    session.flush()
    session.add_all(
        BoardGroup(id=uuid.uuid4(), board_id=board.id, title=title, position=i)
        for i, title in enumerate(body.groups)
    )
    session.add_all(
        BoardColumn(
            id=uuid.uuid4(),
            board_id=board.id,
            title=c.title,
            type=c.type,
            position=i,
            settings=settings_for(c.labels),
        )
        for i, c in enumerate(body.columns)
    )
    session.flush()
    return _describe(session, [board])[0]


def list_boards(session: Session, account_id: uuid.UUID) -> list[BoardPublic]:
    rows = session.scalars(
        select(Board).where(Board.account_id == account_id).order_by(Board.created_at, Board.id)
    ).all()
    return _describe(session, rows)


def get_board(session: Session, account_id: uuid.UUID, board_id: uuid.UUID) -> BoardPublic | None:
    board = session.get(Board, board_id)
    if board is None or board.account_id != account_id:
        return None
    return _describe(session, [board])[0]


def get_boards(
    session: Session, account_id: uuid.UUID, board_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, BoardPublic]:
    """The account's boards of these ids, in three queries however many (a missing id is left out)."""
    ids = list(set(board_ids))
    if not ids:
        return {}
    rows = session.scalars(select(Board).where(Board.id.in_(ids), Board.account_id == account_id)).all()
    return {b.id: b for b in _describe(session, rows)}


def list_items(session: Session, board: BoardPublic, *, limit: int, offset: int = 0) -> list[ItemPublic]:
    """The board's items, oldest first, with their column values keyed by column title, updates and files."""
    items = session.scalars(
        select(BoardItem)
        .where(BoardItem.board_id == board.id)
        .order_by(BoardItem.created_at, BoardItem.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return describe_items(session, board, items)


def get_item(
    session: Session, account_id: uuid.UUID, item_id: uuid.UUID
) -> tuple[BoardItem, BoardPublic] | None:
    """An item of the account's boards with its board; another account's item is simply not found."""
    item = session.get(BoardItem, item_id)
    if item is None:
        return None
    board = get_board(session, account_id, item.board_id)
    return None if board is None else (item, board)


def get_file(session: Session, item_id: uuid.UUID, file_id: uuid.UUID) -> ItemFile | None:
    row = session.get(ItemFile, file_id)
    return row if row is not None and row.item_id == item_id else None


def describe_items(session: Session, board: BoardPublic, items: Sequence[BoardItem]) -> list[ItemPublic]:
    ids = [i.id for i in items]
    updates: dict[uuid.UUID, list[UpdatePublic]] = defaultdict(list)
    files: dict[uuid.UUID, list[FilePublic]] = defaultdict(list)
    if ids:
        rows = session.scalars(
            select(ItemUpdate)
            .where(ItemUpdate.item_id.in_(ids))
            .order_by(ItemUpdate.created_at, ItemUpdate.id)
        ).all()
        for u in rows:
            updates[u.item_id].append(UpdatePublic(id=u.id, body=u.body, created_at=u.created_at))
        # Not the content: a listing never loads the files' bytes.
        for f in session.execute(
            select(ItemFile.id, ItemFile.item_id, ItemFile.name, ItemFile.content_type, ItemFile.size)
            .where(ItemFile.item_id.in_(ids))
            .order_by(ItemFile.created_at, ItemFile.id)
        ):
            files[f.item_id].append(
                FilePublic(id=f.id, name=f.name, content_type=f.content_type, size=f.size)
            )
    groups = {g.id: g.title for g in board.groups}
    columns = [(str(c.id), c.title) for c in board.columns]
    result = []
    for item in items:
        values: dict[str, str] = json.loads(item.column_values)
        result.append(
            ItemPublic(
                id=item.id,
                name=item.name,
                group=groups.get(item.group_id, ""),
                group_id=item.group_id,
                columns={title: values.get(column_id) for column_id, title in columns},
                updates=updates[item.id],
                files=files[item.id],
                created_at=item.created_at,
            )
        )
    return result


def _describe(session: Session, boards: Sequence[Board]) -> list[BoardPublic]:
    ids = [b.id for b in boards]
    groups: dict[uuid.UUID, list[GroupPublic]] = defaultdict(list)
    columns: dict[uuid.UUID, list[ColumnPublic]] = defaultdict(list)
    if ids:
        for g in session.scalars(
            select(BoardGroup).where(BoardGroup.board_id.in_(ids)).order_by(BoardGroup.position)
        ):
            groups[g.board_id].append(GroupPublic(id=g.id, title=g.title))
        for c in session.scalars(
            select(BoardColumn).where(BoardColumn.board_id.in_(ids)).order_by(BoardColumn.position)
        ):
            columns[c.board_id].append(
                ColumnPublic(id=c.id, title=c.title, type=c.type, labels=labels_of(c.settings))
            )
    return [
        BoardPublic(
            id=b.id,
            name=b.name,
            groups=groups[b.id],
            columns=columns[b.id],
            created_at=b.created_at,
            visibility="account" if b.visibility == "account" else "private",
            owner_id=b.owner_id,
        )
        for b in boards
    ]
