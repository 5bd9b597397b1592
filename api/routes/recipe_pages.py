"""Server-rendered recipe pages: the list, a form that builds every kind of recipe, each recipe's page
with its dry run, enable/disable and delete.

Every change goes through the JSON API's own route functions (api/routes/recipes.py and
recipe_dry_run.py, called as functions), so a page checks, saves, refuses and tells the connection's
workflow exactly what the API does. What the API would answer with a 4xx or 5xx is shown on the page in
the API's words, next to the field it concerns, with what the user typed kept and the same status.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import permissions
from activities.mailbox_access import MailboxAccess
from api import recipe_form
from api.deps import EngineDep, OptionalUserDep, SessionDep
from api.recipe_form import KINDS, MONDAY, RecipeForm
from api.routes import recipes as recipes_api
from api.routes.connection_folders import list_folders
from api.routes.recipe_dry_run import dry_run
from api.schemas_connections import ConnectionPublic
from api.templating import signin_redirect, templates
from audit.context import set_request_user
from boards import access as board_access
from boards.schemas import BoardPublic
from db.accounts import User
from db.connections import Connection
from graph.scopes import reads_mail, sends_mail
from recipes.model import RecipeSpec
from recipes.schemas import (
    DRY_RUN_MAX,
    DryRunPublic,
    DryRunRequest,
    FolderPublic,
    RecipeCreate,
    RecipePublic,
    RecipeUpdate,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

T = TypeVar("T")
Body = TypeVar("Body", bound=BaseModel)
Problems = list[tuple[Sequence[str | int], str]]

# What a page says after a redirect (?done=...): fixed words, nothing of the query is echoed.
NOTICES = {
    "created": "The recipe was created.",
    "saved": "The changes were saved.",
    "enabled": "The recipe is enabled: it acts on new emails or board events.",
    "disabled": "The recipe is disabled: it does nothing until it is enabled again.",
    "deleted": "The recipe was deleted. The items it made stay on their boards.",
}
DRY_RUN_DEFAULT = 20


def _see(url: str) -> Response:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


async def _through_api(call: Callable[..., T], *args: Any) -> T | HTTPException:
    """An API route function run in a worker thread (they are blocking, and the monday.com hooks they
    call wait for the event loop from one: anyio's, not asyncio's); its HTTPException is returned."""
    try:
        return await anyio.to_thread.run_sync(call, *args)
    except HTTPException as err:
        return err


def _problems(err: HTTPException | ValidationError) -> Problems:
    """The API's answer as (loc, message) pairs, as its 422 lists them; loc () for the top of the form."""
    if isinstance(err, ValidationError):
        return [(tuple(e["loc"]), e["msg"]) for e in err.errors()]
    if isinstance(err.detail, list):
        return [(tuple(d.get("loc", ())), str(d.get("msg", ""))) for d in err.detail]
    loc = ("connection_id",) if err.detail == "connection not found" else ()
    return [(loc, str(err.detail))]


@dataclass
class Choices:
    """What the user may pick: their own connections, the boards they may write to."""

    connections: list[ConnectionPublic]
    boards: list[BoardPublic]
    refused: str | None

    def connection(self, connection_id: str) -> ConnectionPublic | None:
        return next((c for c in self.connections if str(c.id) == connection_id), None)

    def board(self, board_id: str) -> BoardPublic | None:
        return next((b for b in self.boards if str(b.id) == board_id), None)

    def connection_label(self, connection: ConnectionPublic) -> str:
        """The mailbox, and what a recipe may do with it ("reads and sends mail")."""
        can = [
            words
            for granted, words in (
                (reads_mail(connection.granted_scopes), "reads mail"),
                (sends_mail(connection.granted_scopes), "sends mail"),
            )
            if granted
        ]
        doing = " and ".join(can) or "neither reads nor sends mail"
        state = "" if connection.status == "active" else f", {connection.status}"
        return f"{connection.mailbox} ({doing}{state})"

    def group_names(self) -> list[str]:
        return list(dict.fromkeys(g.title for b in self.boards for g in b.groups))

    def column_titles(self) -> list[str]:
        return list(dict.fromkeys(c.title for b in self.boards for c in b.columns))


def _choices(session: Session, user: User) -> Choices:
    """Blocking."""
    rows = session.scalars(
        select(Connection).where(Connection.owner_id == user.id).order_by(Connection.created_at)
    ).all()
    return Choices(
        connections=[ConnectionPublic.of(r) for r in rows],
        boards=board_access.visible_boards(session, user),
        refused=permissions.refusal(session, user),
    )


async def _folders(
    request: Request, session: Session, user: User, connection: ConnectionPublic | None
) -> tuple[list[FolderPublic], str | None]:
    """The connection's folders a recipe may watch, or why they are not listed (never an error page:
    the inbox can always be chosen)."""
    if connection is None:
        return [], None
    if not reads_mail(connection.granted_scopes):
        return [], (
            f"{connection.mailbox} was not granted reading mail, so its folders are not listed: an email "
            "recipe needs a mailbox connected with incoming mail allowed"
        )
    access = _mailbox_access(request)
    if access is None:
        return [], "the mailbox's folders cannot be listed now: the service is not connected to Microsoft"
    set_request_user(user.id)  # its token reads are audited as this user's, as the API's route does
    try:
        listed = await list_folders(connection.id, session, user, access)
    except HTTPException as err:
        return [], f"the mailbox's folders could not be listed: {err.detail}"
    return [f for f in listed.data if f.display_name.casefold() != "inbox"], None


def _mailbox_access(request: Request) -> MailboxAccess | None:
    """The lifespan's MailboxAccess (None in an app without one: the pages then say so)."""
    access: MailboxAccess | None = getattr(request.app.state, "mailbox_access", None)
    return access


def _board_label(choices: Choices, kind: str, board_id: str) -> str:
    if kind == "monday":
        return f"monday.com board {board_id}"
    board = choices.board(board_id)
    return board.name if board is not None else "a board you no longer see"


def _summary(choices: Choices, recipe: RecipePublic) -> dict[str, str]:
    """What the list and the recipe's page say about a recipe: its kind, mailbox and board."""
    form = _saved_form(recipe)
    connection = choices.connection(str(recipe.connection_id))
    destination, board_id = form.board_ref()
    return {
        "kind": KINDS[form.kind][2],
        "mailbox": connection.mailbox if connection is not None else "a connection that is gone",
        "board": _board_label(choices, destination, board_id),
        "board_url": f"/boards/{board_id}" if destination == "builtin" and choices.board(board_id) else "",
        "monday": "yes" if destination == "monday" else "",
    }


def recipe_spec(recipe: RecipePublic) -> RecipeSpec:
    return RecipeSpec(trigger=recipe.trigger, action=recipe.action)


def _saved_form(recipe: RecipePublic) -> RecipeForm:
    """The form filled in with the recipe as it is saved."""
    return recipe_form.from_spec(
        recipe_spec(recipe), name=recipe.name, connection_id=str(recipe.connection_id), enabled=recipe.enabled
    )


async def _render(
    request: Request,
    session: Session,
    user: User,
    template: str,
    *,
    form: RecipeForm | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = status.HTTP_200_OK,
    choices: Choices | None = None,
    **context: Any,
) -> Response:
    """A page with the recipe form (new or edit): the user's connections, boards, and the folders of the
    form's connection for an email recipe. A form without a board yet gets the user's first one."""
    if choices is None:
        choices = await asyncio.to_thread(_choices, session, user)
    if form is not None and not form.board and choices.boards:
        form.board = str(choices.boards[0].id)
    if form is not None and choices.connection(form.connection_id) is None:
        # Never echo a connection that is not the user's (its id is someone else's secret).
        form.connection_id = ""
    folders: list[FolderPublic] = []
    folders_note = None
    if form is not None and form.incoming and form.kind in KINDS:
        folders, folders_note = await _folders(request, session, user, choices.connection(form.connection_id))
    board = choices.board(form.board) if form is not None else None
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "form": form,
            "errors": errors or {},
            "choices": choices,
            "folders": folders,
            "folders_note": folders_note,
            "kinds": {k: words for k, (_, _, words) in KINDS.items()},
            "monday": MONDAY,
            "importance_levels": recipe_form.IMPORTANCE,
            "email_fields": recipe_form.email_fields(),
            # A monday.com board's columns are not known here: {column:<title>} is offered for them.
            "item_fields": recipe_form.item_fields(c.title for c in (board.columns if board else [])),
            "chosen_board": board,
            "dry_run_max": DRY_RUN_MAX,
            **context,
        },
        status_code=status_code,
    )


async def _form_items(request: Request) -> list[tuple[str, Any]]:
    return list((await request.form()).multi_items())


@dataclass
class Submitted(Generic[T]):
    """What came of a sent recipe form: what the API saved, or the problems by field and the status."""

    saved: T | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT
    refused_by_api: bool = False


async def _submit(
    form: RecipeForm,
    model: type[Body],
    request_body: Callable[[], dict[str, Any]],
    save: Callable[[Body], Awaitable[T | HTTPException]],
) -> Submitted[T]:
    """The form checked as the page does, then as the API's request `model`, then saved through the API;
    the first that finds a problem says it, and nothing is saved."""
    errors = _form_errors(form)
    if errors:
        return Submitted(errors=errors)
    try:
        body = model.model_validate(request_body())
    except ValidationError as err:
        return Submitted(errors=recipe_form.errors_by_field(_problems(err), form.kind))
    saved = await save(body)
    if isinstance(saved, HTTPException):
        errors = recipe_form.errors_by_field(_problems(saved), form.kind)
        return Submitted(errors=errors, status_code=saved.status_code, refused_by_api=True)
    return Submitted(saved=saved)


@dataclass
class RecipeAction:
    """What a page that changes one recipe is called with: the recipe of its path, the user (None when
    signed out), the request and its background tasks."""

    request: Request
    recipe_id: uuid.UUID
    session: Session
    user: User | None
    background: BackgroundTasks


def _recipe_action(
    request: Request,
    recipe_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUserDep,
    background: BackgroundTasks,
) -> RecipeAction:
    return RecipeAction(request, recipe_id, session, user, background)


RecipeActionDep = Annotated[RecipeAction, Depends(_recipe_action)]


# --- the list ---------------------------------------------------------------------------------------


@router.get("/recipes", response_class=HTMLResponse)
def recipes_page(request: Request, session: SessionDep, user: OptionalUserDep, done: str = "") -> Response:
    """The user's recipes, or what to do first to make one."""
    if user is None:
        return signin_redirect()
    listed = recipes_api.list_recipes(session, user, None)
    choices = _choices(session, user)
    rows = [{"recipe": r, **_summary(choices, r)} for r in listed.data]
    return templates.TemplateResponse(
        request,
        "recipes.html",
        {"user": user, "rows": rows, "choices": choices, "notice": NOTICES.get(done)},
    )


# --- new --------------------------------------------------------------------------------------------


@router.get("/recipes/new", response_class=HTMLResponse)
async def new_recipe_page(
    request: Request, session: SessionDep, user: OptionalUserDep, kind: str = "", connection_id: str = ""
) -> Response:
    """The form for a new recipe of the chosen kind on the chosen mailbox (first: an email recipe on
    the user's first mailbox)."""
    if user is None:
        return signin_redirect()
    choices = await asyncio.to_thread(_choices, session, user)
    if choices.connection(connection_id) is None:
        usable = [c for c in choices.connections if c.status != "disconnected"]
        connection_id = str(usable[0].id) if usable else ""
    form = RecipeForm(kind=kind if kind in KINDS else "email_item", connection_id=connection_id)
    return await _render(
        request, session, user, "recipe_new.html", form=form, choices=choices, form_action="/recipes"
    )


def _create(body: RecipeCreate, session: Session, user: User, request: Request, bg: BackgroundTasks) -> str:
    return str(recipes_api.create_recipe(body, session, user, request, bg).id)


@router.post("/recipes", response_class=HTMLResponse)
async def create_recipe_page(
    request: Request, session: SessionDep, user: OptionalUserDep, background: BackgroundTasks
) -> Response:
    """Creates the recipe the form describes, as POST /api/recipes would; on a problem the form again,
    with the problem next to its field and nothing saved."""
    if user is None:
        return signin_redirect()
    form = recipe_form.parse(await _form_items(request))

    async def create(body: RecipeCreate) -> str | HTTPException:
        return await _through_api(_create, body, session, user, request, background)

    made = await _submit(form, RecipeCreate, form.create_request, create)
    if made.saved is not None:
        return _see(f"/recipes/{made.saved}?done=created")
    return await _render(
        request,
        session,
        user,
        "recipe_new.html",
        form=form,
        errors=made.errors,
        status_code=made.status_code,
        form_action="/recipes",
    )


def _form_errors(form: RecipeForm) -> dict[str, list[str]]:
    """What only the form can get wrong, by field (the API is not asked then)."""
    errors: dict[str, list[str]] = {}
    for name, msg in form.problems():
        errors.setdefault(name, []).append(msg)
    return errors


# --- one recipe -------------------------------------------------------------------------------------


def _owned(session: Session, user: User, recipe_id: uuid.UUID) -> RecipePublic:
    """The user's recipe as the API shows it (404 for anyone else's)."""
    return recipes_api.get_recipe(recipe_id, session, user)


async def _recipe_page(
    request: Request,
    session: Session,
    user: User,
    recipe: RecipePublic,
    *,
    form: RecipeForm | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> Response:
    """The recipe's page: what it is, its buttons, its dry run (when one ran) and the form to change it."""
    choices = await asyncio.to_thread(_choices, session, user)
    if form is None:
        form = _saved_form(recipe)
    return await _render(
        request,
        session,
        user,
        "recipe.html",
        form=form,
        errors=errors,
        status_code=status_code,
        choices=choices,
        recipe=recipe,
        summary=_summary(choices, recipe),
        form_action=f"/recipes/{recipe.id}",
        **{"dry_run_limit": DRY_RUN_DEFAULT, **context},
    )


@router.get("/recipes/{recipe_id}", response_class=HTMLResponse)
async def recipe_page(
    request: Request,
    recipe_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUserDep,
    kind: str = "",
    done: str = "",
) -> Response:
    """One recipe: what it does, enable/disable, dry run, delete, and the form to change it (`kind`:
    show the form for another kind of recipe, keeping the name and the mailbox)."""
    if user is None:
        return signin_redirect()
    recipe = await asyncio.to_thread(_owned, session, user, recipe_id)
    form = None
    if kind in KINDS and kind != recipe_form.kind_of(recipe_spec(recipe)):
        form = RecipeForm(kind=kind, name=recipe.name, connection_id=str(recipe.connection_id))
    return await _recipe_page(request, session, user, recipe, form=form, notice=NOTICES.get(done))


def _update(
    recipe_id: uuid.UUID,
    body: RecipeUpdate,
    session: Session,
    user: User,
    request: Request,
    background: BackgroundTasks,
) -> RecipePublic:
    return recipes_api.update_recipe(recipe_id, body, session, user, request, background)


@router.post("/recipes/{recipe_id}", response_class=HTMLResponse)
async def update_recipe_page(action: RecipeActionDep) -> Response:
    """Saves the form's name, trigger and action, as PATCH /api/recipes/{id} would."""
    request, recipe_id, session, user = action.request, action.recipe_id, action.session, action.user
    if user is None:
        return signin_redirect()
    recipe = await asyncio.to_thread(_owned, session, user, recipe_id)
    form = recipe_form.parse(await _form_items(request))
    # The connection of a recipe is not changed by the form (the API cannot move a recipe).
    form.connection_id, form.enabled = str(recipe.connection_id), recipe.enabled

    async def update(body: RecipeUpdate) -> RecipePublic | HTTPException:
        return await _through_api(_update, recipe_id, body, session, user, request, action.background)

    saved = await _submit(form, RecipeUpdate, form.update_request, update)
    if saved.saved is not None:
        return _see(f"/recipes/{recipe_id}?done=saved")
    errors = saved.errors
    if saved.refused_by_api:
        # The recipe's page shows its mailbox but has no input for it: say it at the top.
        errors.setdefault("", []).extend(errors.pop("connection_id", []))
        errors = {k: v for k, v in errors.items() if v}
        # Read again: a refused monday.com webhook leaves a changed recipe disabled.
        recipe = await asyncio.to_thread(_owned, session, user, recipe_id)
    return await _recipe_page(
        request, session, user, recipe, form=form, errors=errors, status_code=saved.status_code
    )


async def _switch(action: RecipeAction, enabled: bool) -> Response:
    request, recipe_id, session, user = action.request, action.recipe_id, action.session, action.user
    if user is None:
        return signin_redirect()
    body = RecipeUpdate(enabled=enabled)
    saved = await _through_api(_update, recipe_id, body, session, user, request, action.background)
    if not isinstance(saved, HTTPException):
        return _see(f"/recipes/{recipe_id}?done={'enabled' if enabled else 'disabled'}")
    if saved.status_code == status.HTTP_404_NOT_FOUND:
        raise saved
    recipe = await asyncio.to_thread(_owned, session, user, recipe_id)
    problems = _problems(saved)
    return await _recipe_page(
        request,
        session,
        user,
        recipe,
        status_code=saved.status_code,
        action_error="; ".join(recipe_form.readable(msg) for _, msg in problems),
    )


@router.post("/recipes/{recipe_id}/enable", response_class=HTMLResponse)
async def enable_recipe_page(action: RecipeActionDep) -> Response:
    """Enables the recipe (PATCH {"enabled": true}: refused, in words, when the account does not let the
    user create integrations)."""
    return await _switch(action, True)


@router.post("/recipes/{recipe_id}/disable", response_class=HTMLResponse)
async def disable_recipe_page(action: RecipeActionDep) -> Response:
    """Disables the recipe (always allowed)."""
    return await _switch(action, False)


@router.get("/recipes/{recipe_id}/delete", response_class=HTMLResponse)
def delete_recipe_confirm_page(
    request: Request, recipe_id: uuid.UUID, session: SessionDep, user: OptionalUserDep
) -> Response:
    """Asks before deleting, saying what goes and what stays."""
    if user is None:
        return signin_redirect()
    recipe = _owned(session, user, recipe_id)
    summary = _summary(_choices(session, user), recipe)
    return templates.TemplateResponse(
        request, "recipe_delete.html", {"user": user, "recipe": recipe, "summary": summary}
    )


@router.post("/recipes/{recipe_id}/delete")
async def delete_recipe_page(action: RecipeActionDep) -> Response:
    """Deletes the recipe, as DELETE /api/recipes/{id} would, and returns to the list."""
    if action.user is None:
        return signin_redirect()
    deleted = await _through_api(
        recipes_api.delete_recipe,
        action.recipe_id,
        action.session,
        action.user,
        action.request,
        action.background,
    )
    if isinstance(deleted, HTTPException):
        raise deleted
    return _see("/recipes?done=deleted")


@router.post("/recipes/{recipe_id}/dry-run", response_class=HTMLResponse)
async def dry_run_page(
    request: Request,
    recipe_id: uuid.UUID,
    session: SessionDep,
    engine: EngineDep,
    user: OptionalUserDep,
) -> Response:
    """Runs the API's dry run and shows its table, or why it could not run (409, 422, 502, 503 in
    words); changes nothing."""
    if user is None:
        return signin_redirect()
    recipe = await asyncio.to_thread(_owned, session, user, recipe_id)
    fields = dict(await _form_items(request))
    try:
        request_body = DryRunRequest(limit=int(str(fields.get("limit", DRY_RUN_DEFAULT))))
    except ValueError:  # pydantic's ValidationError is a ValueError too
        request_body = DryRunRequest(limit=DRY_RUN_DEFAULT)
    result: DryRunPublic | None = None
    error: str | None = None
    status_code = status.HTTP_200_OK
    access = _mailbox_access(request)
    if access is None:
        error = "the dry run cannot read the mailbox now: the service is not connected to Microsoft"
        status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    else:
        set_request_user(user.id)
        try:
            result = await dry_run(recipe_id, request_body, session, engine, user, access)
        except HTTPException as err:
            error, status_code = str(err.detail), err.status_code
    return await _recipe_page(
        request,
        session,
        user,
        recipe,
        status_code=status_code,
        dry_run=result,
        dry_run_error=error,
        dry_run_limit=request_body.limit,
    )
