"""What saving an outgoing recipe on a monday.com board does beyond the database: check the board at
monday.com before the save, and keep the recipe's monday webhook in step after it (boards/monday/
triggers.py). The recipe routes are sync (threadpool): these run monday.com's async calls on the event
loop through anyio and wait for them, so a save answers only once monday.com has the webhook.

Failures answer like the rest of the API: 422 for what the user can fix, 502 when monday.com could not
be asked; never the token or the webhook's URL.
"""

from __future__ import annotations

import uuid

import anyio.from_thread
from fastapi import HTTPException, Request, status
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from boards.monday.errors import MondayError, MondayNotLinked, MondayTokenRefused
from boards.monday.token_store import MondayTokenStore
from boards.monday.triggers import MondayTriggers
from config.settings import Settings
from db.monday_webhooks import MondayWebhook
from db.recipes import RecipeRow
from recipes import store
from recipes.board_check import Problem
from recipes.model import RecipeSpec
from vault.errors import VaultStoreError


def _triggers(request: Request, session: Session) -> MondayTriggers:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    settings: Settings = request.app.state.settings
    tokens = getattr(request.app.state, "monday_tokens", None)
    return MondayTriggers(
        engine, tokens if isinstance(tokens, MondayTokenStore) else None, settings.public_base
    )


def _failed(err: Exception, doing: str) -> HTTPException:
    if isinstance(err, MondayTokenRefused):
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"{doing}: monday.com refused the account's token; link monday.com again",
        )
    if isinstance(err, MondayNotLinked):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{doing}: {err}")
    if isinstance(err, VaultStoreError):
        return HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{doing}: the secret store is unavailable"
        )
    # The client's messages name the operation and monday.com's answer, never the token or the URL.
    return HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"{doing}: {err}")


_FAILURES = (MondayError, MondayNotLinked, VaultStoreError)


def check_monday_board(
    request: Request, session: Session, account_id: uuid.UUID, spec: RecipeSpec
) -> list[Problem]:
    """Problems of an outgoing recipe with the monday.com board it watches ([] for other recipes)."""
    if spec.monday_trigger() is None:
        return []
    try:
        return anyio.from_thread.run(_triggers(request, session).check, account_id, spec)
    except _FAILURES as err:
        raise _failed(err, "could not check the monday.com board") from None


def _has_webhooks(session: Session, recipe_id: uuid.UUID) -> bool:
    return (
        session.scalars(select(MondayWebhook.id).where(MondayWebhook.recipe_id == recipe_id)).first()
        is not None
    )


def watch_monday_board(
    request: Request, session: Session, row: RecipeRow, account_id: uuid.UUID, *, created: bool
) -> None:
    """After the commit: registers (or moves, or deletes) the recipe's monday webhook. When that fails a
    new recipe is deleted again and a changed one disabled, so no recipe looks active without its
    webhook; the answer says why."""
    spec = store.spec_of(row)
    if spec.monday_trigger() is None and not _has_webhooks(session, row.id):
        return
    try:
        anyio.from_thread.run(_triggers(request, session).sync, row.id, account_id)
    except _FAILURES as err:
        if created:
            session.delete(row)
            doing = "the recipe was not saved: could not register its monday.com webhook"
        else:
            row.enabled = False
            doing = "the recipe was saved disabled: could not register its monday.com webhook"
        session.commit()
        raise _failed(err, doing) from None


def forget_monday_webhooks(
    request: Request, session: Session, recipe_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """After a recipe was deleted: its monday webhooks are deleted too (best effort; logged if not)."""
    if _has_webhooks(session, recipe_id):
        anyio.from_thread.run(_triggers(request, session).forget, recipe_id, account_id)
