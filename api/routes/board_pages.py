"""Server-rendered board pages: the boards a user sees with a form to make one; one board's groups,
items, updates and files, a status change per item, and forms to add groups and columns and to edit a
status column's labels.

Every change goes through the API's own functions (api/routes/boards.py create_board and patch_board,
api/routes/items.py change_visible_item): the same checks and the same board events, so a status
changed here fires outgoing recipes exactly as PATCH /api/items/{id} does. A refused change re-renders
the page with the reason next to its field (4xx) and writes nothing; a change made redirects (303) back.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.orm import Session

from api.deps import OptionalUserDep, SessionDep
from api.routes import boards as boards_api
from api.routes.board_pages_view import board_view
from api.routes.items import change_visible_item
from api.templating import signin_redirect, templates
from boards import access
from boards.change_schemas import BoardChange
from boards.schemas import BoardCreate, ItemChange
from db.accounts import User
from db.boards import BoardItem

router = APIRouter(tags=["pages"], include_in_schema=False)

FormText = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]

# What the page says after a change (the redirect names one of these; nothing else is echoed).
NOTICES = {
    "created": "Board created. Add the columns your recipes fill (for example Email, and a Status column "
    "with its labels), then make a recipe that puts emails on it.",
    "changed": "Changed. Outgoing recipes that watch this column act on it now.",
    "labels": "Labels saved.",
    "column": "Column added.",
    "group": "Group added.",
}
COLUMN_TYPES = {
    "text": "Text",
    "long_text": "Long text",
    "email": "Email address",
    "date": "Date",
    "status": "Status (labels)",
    "number": "Number",
    "link": "Link (URL)",
}
NEW_BOARD = {"name": "", "visibility": "private", "groups": "New"}


@dataclass
class BoardForm:
    """A form posted on one board's page: the request, the board of its path, the database session and
    the user (None when signed out)."""

    request: Request
    board_id: uuid.UUID
    session: Session
    user: User | None


def _board_form(
    request: Request, board_id: uuid.UUID, session: SessionDep, user: OptionalUserDep
) -> BoardForm:
    return BoardForm(request, board_id, session, user)


BoardFormDep = Annotated[BoardForm, Depends(_board_form)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _say(error: ErrorDetails) -> str:
    """One validation error in words for a person (pydantic's message, without its prefixes)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_too_short":
        return "It cannot be empty."
    if kind == "string_too_long":
        return f"It may have at most {ctx.get('max_length')} characters."
    if kind == "too_long":
        return f"At most {ctx.get('max_length')} of these."
    return str(error["msg"]).removeprefix("Value error, ")


def _words(errors: list[ErrorDetails]) -> str:
    return " ".join(dict.fromkeys(_say(e) for e in errors))


def _detail(err: HTTPException) -> str:
    """The API's refusal in words: its detail, or the messages of a 422's list."""
    if isinstance(err.detail, list):
        return " ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in err.detail)
    return str(err.detail)


def _boards(
    request: Request,
    session: Session,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    return templates.TemplateResponse(
        request,
        "boards.html",
        {
            "user": user,
            "boards": access.visible_boards(session, user),
            "errors": errors or {},
            "form": form or NEW_BOARD,
        },
        status_code=status_code,
    )


def _board(
    request: Request,
    session: Session,
    user: User,
    board_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
    notice: str | None = None,
) -> Response:
    board = boards_api.account_board(session, user, board_id)
    return templates.TemplateResponse(
        request,
        "board.html",
        {
            "user": user,
            "view": board_view(session, user, board),
            "errors": errors or {},
            "form": form or {},
            "notice": notice,
            "column_types": COLUMN_TYPES,
        },
        status_code=status_code,
    )


def _refused(
    request: Request,
    session: Session,
    user: User,
    board_id: uuid.UUID,
    field: str,
    said: str,
    status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT,
    form: dict[str, Any] | None = None,
) -> Response:
    """The board page again, `said` beside the form field `field`, what was typed kept in `form`."""
    return _board(request, session, user, board_id, errors={field: said}, form=form, status_code=status_code)


def _back(board_id: uuid.UUID, done: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/boards/{board_id}?done={done}{anchor}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/boards", response_class=HTMLResponse)
def boards_page(request: Request, session: SessionDep, user: OptionalUserDep) -> Response:
    """The boards the user sees (their own and the account's shared ones) and a form to make one."""
    if user is None:
        return signin_redirect()
    return _boards(request, session, user)


@router.post("/boards", response_class=HTMLResponse)
def create_board_page(
    request: Request,
    session: SessionDep,
    user: OptionalUserDep,
    name: FormText = "",
    visibility: FormText = "private",
    groups: FormText = "New",
) -> Response:
    """Makes a board (as POST /api/boards does) and opens it."""
    if user is None:
        return signin_redirect()
    form = {"name": name, "visibility": visibility, "groups": groups}
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Give the board a name."
    if not _lines(groups):
        errors["groups"] = "A board needs at least one group, for example New."
    if not errors:
        try:
            body = BoardCreate.model_validate(
                {"name": name, "visibility": visibility, "groups": _lines(groups)}
            )
        except ValidationError as err:
            for e in err.errors():
                field = str(e["loc"][0]) if e["loc"] else "name"
                errors[field] = " ".join(filter(None, (errors.get(field), _say(e))))
    if errors:
        return _boards(
            request,
            session,
            user,
            errors=errors,
            form=form,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    board = boards_api.create_board(body, session, user)
    return _back(board.id, "created")


@router.get("/boards/{board_id}", response_class=HTMLResponse)
def board_page(
    request: Request, board_id: uuid.UUID, session: SessionDep, user: OptionalUserDep, done: str = ""
) -> Response:
    """One board: its groups, items with their columns, updates and files; a status change per item."""
    if user is None:
        return signin_redirect()
    return _board(request, session, user, board_id, notice=NOTICES.get(done))


@router.post("/boards/{board_id}/items/{item_id}/change", response_class=HTMLResponse)
def change_item_page(
    page: BoardFormDep, item_id: uuid.UUID, column: FormText = "", value: FormText = ""
) -> Response:
    """Sets one column of the item (the page offers its status), through PATCH /api/items/{id}'s own
    function: the same board event, so outgoing recipes fire as they do from the API. "" clears it."""
    request, board_id, session, user = page.request, page.board_id, page.session, page.user
    if user is None:
        return signin_redirect()
    board = boards_api.account_board(session, user, board_id)
    row = session.get(BoardItem, item_id)
    if row is None or row.board_id != board_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="item not found")
    # Shown beside the column's select; a column the page does not offer, beside the item's name.
    offered = any(c.title == column and c.type == "status" for c in board.columns)
    field = f"item-{item_id}-{column}" if offered else f"item-{item_id}"
    try:
        body = ItemChange.model_validate({"columns": {column: value or None}})
    except ValidationError as err:
        return _refused(request, session, user, board_id, field, _words(err.errors()))
    try:
        change_visible_item(session, user, item_id, body, request.app)
    except HTTPException as err:
        if err.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return _refused(request, session, user, board_id, field, _detail(err), err.status_code)
    return _back(board_id, "changed", f"#item-{item_id}")


def _change_board(
    request: Request,
    session: Session,
    user: User,
    board_id: uuid.UUID,
    change: dict[str, Any],
    *,
    field: str,
    form: dict[str, Any],
    done: str,
    conflict: str | None = None,
) -> Response:
    """Applies one board change through PATCH /api/boards/{id}'s function (owner or admin only, all or
    nothing); its refusal is shown next to `field`. `conflict`: words for a 409 in place of the API's."""
    try:
        body = BoardChange.model_validate(change)
        boards_api.patch_board(board_id, body, session, user)
    except ValidationError as err:
        return _refused(request, session, user, board_id, field, _words(err.errors()), form=form)
    except HTTPException as err:
        if err.status_code == status.HTTP_404_NOT_FOUND:
            raise
        said = _detail(err)
        if err.status_code == status.HTTP_409_CONFLICT and conflict is not None:
            said = conflict + _held_labels(said)
        return _refused(request, session, user, board_id, field, said, err.status_code, form)
    return _back(board_id, done)


def _held_labels(detail: str) -> str:
    """Which dropped labels items still hold, in words, from the store's refusal ('' if it names none)."""
    held = re.findall(r"(\d+) item\(s\) have the label '([^']*)'", detail)
    return "".join(f" {count} item(s) have the label \u201c{label}\u201d." for count, label in held)


@router.post("/boards/{board_id}/labels", response_class=HTMLResponse)
def labels_page(
    page: BoardFormDep,
    column: FormText = "",
    old_label: FormList = None,
    label: FormList = None,
    new_label: FormText = "",
) -> Response:
    """A status column's labels: each renamed in place (items keep it under its new name), emptied to
    remove it (only when no item holds it), and one added."""
    request, board_id, session, user = page.request, page.board_id, page.session, page.user
    if user is None:
        return signin_redirect()
    olds, news = old_label or [], label or []
    field = f"labels-{column}"
    form = {"column": column, "labels": news, "new_label": new_label}
    if len(olds) != len(news):
        said = "The form was incomplete: reload the page and try again."
        return _refused(request, session, user, board_id, field, said, status.HTTP_400_BAD_REQUEST)
    labels = [n.strip() for n in news if n.strip()]
    if new_label.strip():
        labels.append(new_label.strip())
    if not labels:
        said = "A status column needs at least one label."
        return _refused(request, session, user, board_id, field, said, form=form)
    relabel = {o: n.strip() for o, n in zip(olds, news, strict=True) if n.strip() and n.strip() != o}
    change = {"changes": [{"op": "set_labels", "column": column, "labels": labels, "relabel": relabel}]}
    return _change_board(
        request,
        session,
        user,
        board_id,
        change,
        field=field,
        form=form,
        done="labels",
        conflict="Not saved: items still have a label you emptied. Give them another status first, "
        "or rename the label instead of removing it.",
    )


@router.post("/boards/{board_id}/columns", response_class=HTMLResponse)
def add_column_page(
    page: BoardFormDep, title: FormText = "", column_type: FormText = "text", labels: FormText = ""
) -> Response:
    """Adds a column; a status column with its labels, one per line."""
    request, board_id, session, user = page.request, page.board_id, page.session, page.user
    if user is None:
        return signin_redirect()
    form = {"title": title, "column_type": column_type, "labels": labels}
    wanted = _lines(labels) if column_type == "status" else []
    if not title.strip():
        error = "Give the column a title."
    elif column_type == "status" and not wanted:
        error = "A status column needs labels, one per line: for example New, Working on it, Done."
    else:
        change = {"changes": [{"op": "add_column", "title": title, "type": column_type, "labels": wanted}]}
        return _change_board(
            request, session, user, board_id, change, field="column", form=form, done="column"
        )
    return _refused(request, session, user, board_id, "column", error, form=form)


@router.post("/boards/{board_id}/groups", response_class=HTMLResponse)
def add_group_page(page: BoardFormDep, title: FormText = "") -> Response:
    """Adds a group at the end of the board."""
    request, board_id, session, user = page.request, page.board_id, page.session, page.user
    if user is None:
        return signin_redirect()
    form = {"group_title": title}
    if not title.strip():
        return _refused(request, session, user, board_id, "group", "Give the group a title.", form=form)
    change = {"changes": [{"op": "add_group", "title": title}]}
    return _change_board(request, session, user, board_id, change, field="group", form=form, done="group")
