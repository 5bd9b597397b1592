"""Items of the boards the caller sees: create, show, change column values, add updates, download files.

Changes write their board events in the same transaction (boards.items); the event forwarder takes them
from there. A value that does not fit its column, an unknown column or group: 422 saying which and why.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from api.board_event_forwarder import wake_board_events
from api.deps import CurrentUser, SessionDep
from api.routes.boards import account_board
from boards import access, items, service
from boards.errors import BoardStoreError
from boards.schemas import BoardPublic, ItemChange, ItemCreate, ItemPublic, UpdateCreate, UpdatePublic
from db.accounts import User
from db.boards import Board, BoardItem

router = APIRouter(tags=["items"])


def _account_item(session: Session, user: User, item_id: uuid.UUID) -> tuple[BoardItem, BoardPublic]:
    """An item of a board the caller sees; any other item is indistinguishable from a missing one."""
    found = access.visible_item(session, user, item_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="item not found")
    return found


def _unprocessable(err: BoardStoreError) -> HTTPException:
    # The store's messages name the board, group or column and what was expected, never a value.
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err))


def _show(session: Session, board: BoardPublic, item: BoardItem) -> ItemPublic:
    return service.describe_items(session, board, [item])[0]


@router.post("/api/boards/{board_id}/items", status_code=status.HTTP_201_CREATED)
def create_item(
    board_id: uuid.UUID, body: ItemCreate, session: SessionDep, user: CurrentUser, request: Request
) -> ItemPublic:
    """Creates an item (in the board's first group unless one is named); fires item_created."""
    board = account_board(session, user, board_id)
    try:
        item = items.create_item(
            session, session.get_one(Board, board.id), name=body.name, group=body.group, columns=body.columns
        )
    except BoardStoreError as err:
        session.rollback()
        raise _unprocessable(err) from None
    session.commit()
    wake_board_events(request.app)
    return _show(session, board, item)


@router.get("/api/items/{item_id}")
def get_item(item_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ItemPublic:
    """One item with its column values, updates (newest last) and files."""
    item, board = _account_item(session, user, item_id)
    return _show(session, board, item)


def change_visible_item(
    session: Session, user: User, item_id: uuid.UUID, body: ItemChange, app: FastAPI
) -> tuple[BoardItem, BoardPublic]:
    """The change behind PATCH /api/items/{id} and the board page's status change: commits the values
    with their column_changed events and wakes the forwarder, so outgoing recipes fire alike from both.
    404, 409 (busy) or 422 (the store's words) as HTTPException, with nothing written."""
    item, board = _account_item(session, user, item_id)
    try:
        items.change_item(session, item, columns=body.columns, name=body.name, group=body.group)
    except items.ItemBusy as err:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from None
    except BoardStoreError as err:
        session.rollback()
        raise _unprocessable(err) from None
    session.commit()
    wake_board_events(app)
    return item, board


@router.patch("/api/items/{item_id}")
def change_item(
    item_id: uuid.UUID, body: ItemChange, session: SessionDep, user: CurrentUser, request: Request
) -> ItemPublic:
    """Changes column values (and the name or group); fires column_changed for each value that changed."""
    item, board = change_visible_item(session, user, item_id, body, request.app)
    return _show(session, board, item)


@router.post("/api/items/{item_id}/updates", status_code=status.HTTP_201_CREATED)
def add_update(
    item_id: uuid.UUID, body: UpdateCreate, session: SessionDep, user: CurrentUser
) -> UpdatePublic:
    """Adds an update to the item; its HTML is sanitised before it is stored."""
    item, _board = _account_item(session, user, item_id)
    update = items.add_update(session, item, body.body)
    if not update.body.strip():
        session.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="the update's body is empty once its HTML is made safe",
        )
    session.commit()
    return UpdatePublic(id=update.id, body=update.body, created_at=update.created_at)


@router.get(
    "/api/items/{item_id}/files/{file_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."}},
)
def download_file(item_id: uuid.UUID, file_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Response:
    """A file of the item, always as a download (an email's attachment is never rendered by the browser)."""
    _account_item(session, user, item_id)
    row = service.get_file(session, item_id, file_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="file not found")
    # An ASCII fallback for old clients, and the exact name (RFC 6266 / 5987) for the others.
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in row.name)
    return Response(
        content=row.content,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(row.name)}",
            "X-Content-Type-Options": "nosniff",
            # Even opened directly, a file runs nothing (an HTML or SVG attachment is inert).
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
