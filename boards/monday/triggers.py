"""Outgoing recipes on a monday.com board: the webhook each needs at monday.com, kept in step with it.

`check` (before a save) reads the board at monday.com: it exists, the watched column exists, a status
column's `to` is one of its labels, and every {column:X} of the email names a column. `sync` (after the
save's commit) makes monday.com's webhooks match the recipe: an enabled recipe gets one webhook
(`create_item`, or `change_specific_column_value` with {"columnId"}) whose URL ends in a fresh random
secret; a disabled, changed or deleted recipe's old webhook is deleted (`delete_webhook`) with its row.
The row (with the secret's hash) is committed *before* create_webhook, because monday.com POSTs its
challenge to the URL while the mutation runs, and the webhook route must know the secret by then.

The secret is in the URL given to monday.com and nowhere else: not in the database (a hash), not in a
log or an exception (operations name the board, never the URL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, select

from boards.monday.api import MondayApi
from boards.monday.client import MondayClient
from boards.monday.errors import MondayError, MondayNotLinked, MondayRequestRejected
from boards.monday.inbound import secret_hash
from boards.monday.token_store import MondayTokenStore
from boards.monday.wire import RemoteBoard, RemoteColumn
from db.engine import session_scope
from db.monday_accounts import MondayAccount
from db.monday_webhooks import MondayWebhook
from db.recipes import RecipeRow
from recipes.board_check import Problem
from recipes.model import ColumnChangedTrigger, ItemCreatedTrigger, Recipe, RecipeSpec, SendEmailAction
from recipes.store import to_recipe
from recipes.templates import column_titles
from vault.errors import VaultStoreError

log = logging.getLogger("boards.monday.triggers")
WEBHOOK_PATH = "/webhooks/monday/"


@dataclass(frozen=True)
class Wanted:
    board_id: str
    event: str
    column_id: str | None

    @property
    def config(self) -> dict[str, Any] | None:
        return {"columnId": self.column_id} if self.column_id else None


def _labels(column: RemoteColumn) -> list[str]:
    try:
        settings = json.loads(column.settings_str or "{}")
    except ValueError:
        return []
    labels = settings.get("labels") if isinstance(settings, dict) else None
    return [str(v) for v in labels.values()] if isinstance(labels, dict) else []


def _no_column(loc: tuple[str, ...], board: RemoteBoard, title: str, known: str) -> Problem:
    return Problem(
        loc=loc, msg=f"monday.com board {board.name!r} has no column {title!r}; its columns: {known}"
    )


def board_problems(spec: RecipeSpec, board: RemoteBoard | None) -> list[Problem]:
    """Whether an outgoing recipe fits the monday.com board it watches (None: no such board)."""
    trigger = spec.monday_trigger()
    if trigger is None:
        return []
    if board is None:
        return [
            Problem(
                loc=("trigger", "board_id"),
                msg=f"monday.com board {trigger.board_id} does not exist or is not shared with the "
                "linked monday.com user",
            )
        ]
    known = ", ".join(c.title for c in board.columns) or "none"
    titles = {c.title: c for c in board.columns}
    problems: list[Problem] = []
    if isinstance(trigger, ColumnChangedTrigger):
        column = titles.get(trigger.column)
        if column is None:
            problems.append(_no_column(("trigger", "column"), board, trigger.column, known))
        elif trigger.to is not None and column.type == "status":
            labels = _labels(column)
            if labels and trigger.to.casefold() not in {la.casefold() for la in labels}:
                problems.append(
                    Problem(
                        loc=("trigger", "to"),
                        msg=f"status column {trigger.column!r} of monday.com board {board.name!r} has no "
                        f"label {trigger.to!r}; its labels: {', '.join(labels)}",
                    )
                )
    action = spec.action
    if isinstance(action, SendEmailAction):
        for field, template in (("to", action.to), ("subject", action.subject), ("body", action.body)):
            for title in dict.fromkeys(column_titles(template)):
                if title not in titles:
                    problems.append(_no_column(("action", field), board, title, known))
    return problems


def wanted(trigger: ItemCreatedTrigger | ColumnChangedTrigger, board: RemoteBoard) -> Wanted | None:
    if isinstance(trigger, ItemCreatedTrigger):
        return Wanted(trigger.board_id, "create_item", None)
    column = next((c for c in board.columns if c.title == trigger.column), None)
    if column is None:
        return None
    return Wanted(trigger.board_id, "change_specific_column_value", column.id)


class MondayTriggers:
    def __init__(self, engine: Engine, tokens: MondayTokenStore | None, public_base: str) -> None:
        self._engine = engine
        self._tokens = tokens
        self._public_base = public_base.rstrip("/")

    async def check(self, account_id: uuid.UUID, spec: RecipeSpec) -> list[Problem]:
        """What keeps an outgoing recipe from watching its monday.com board ([] for other recipes).
        Raises boards.monday.errors types when monday.com cannot be asked."""
        trigger = spec.monday_trigger()
        if trigger is None:
            return []
        async with httpx.AsyncClient() as http:
            api = await self._api(http, account_id)
            return board_problems(spec, await api.board(trigger.board_id))

    async def sync(self, recipe_id: uuid.UUID, account_id: uuid.UUID) -> None:
        """Makes monday.com's webhooks for this recipe match it (the recipe may be gone). Raises
        boards.monday.errors types when a webhook the recipe needs could not be registered."""
        recipe = await asyncio.to_thread(self._recipe_spec, recipe_id)
        rows = await asyncio.to_thread(self._rows, recipe_id)
        trigger = recipe.monday_trigger() if recipe is not None and recipe.enabled else None
        if trigger is None and not rows:
            return
        async with httpx.AsyncClient() as http:
            api = await self._api(http, account_id)
            want: Wanted | None = None
            if trigger is not None:
                board = await api.board(trigger.board_id)
                want = wanted(trigger, board) if board is not None else None
                if want is None:
                    raise MondayError(f"monday.com board {trigger.board_id} no longer fits the recipe")
            keep = None
            for row in rows:
                same = want is not None and (row.monday_board_id, row.event, row.column_id) == (
                    want.board_id,
                    want.event,
                    want.column_id,
                )
                if same and keep is None and row.monday_webhook_id is not None:
                    keep = row
                    continue
                await self._delete(api, row)
            if want is not None and keep is None:
                await self._register(api, recipe_id, account_id, want)

    async def forget(self, recipe_id: uuid.UUID, account_id: uuid.UUID) -> None:
        """After a recipe was deleted: its webhooks go; an unreachable monday.com is logged, not raised
        (the recipe is gone either way, and the webhook's deliveries are then refused)."""
        try:
            await self.sync(recipe_id, account_id)
        except (MondayError, MondayNotLinked, VaultStoreError) as err:
            log.warning("monday.com webhook of deleted recipe %s not deleted: %s", recipe_id, err)
            await asyncio.to_thread(self._delete_rows, recipe_id)

    async def _register(
        self, api: MondayApi, recipe_id: uuid.UUID, account_id: uuid.UUID, want: Wanted
    ) -> None:
        secret = secrets.token_urlsafe(32)
        row_id = await asyncio.to_thread(self._add_row, recipe_id, account_id, want, secret_hash(secret))
        try:
            webhook_id = await api.create_webhook(
                want.board_id, f"{self._public_base}{WEBHOOK_PATH}{secret}", want.event, want.config
            )
        except BaseException:
            await asyncio.to_thread(self._delete_row, row_id)
            raise
        await asyncio.to_thread(self._set_webhook_id, row_id, webhook_id)

    async def _delete(self, api: MondayApi, row: MondayWebhook) -> None:
        if row.monday_webhook_id is not None:
            try:
                await api.delete_webhook(row.monday_webhook_id)
            except MondayRequestRejected as err:
                # Already gone at monday.com (deleted by a person, or the board was): nothing to undo.
                # The client's message names monday.com's error code, never monday.com's own text.
                if "ResourceNotFoundException" not in str(err):
                    raise
        await asyncio.to_thread(self._delete_row, row.id)

    async def _api(self, http: httpx.AsyncClient, account_id: uuid.UUID) -> MondayApi:
        if self._tokens is None:
            raise MondayNotLinked("monday.com tokens are not available in this process")
        api_url = await asyncio.to_thread(self._api_url, account_id)
        token = await self._tokens.load(str(account_id))
        return MondayApi(MondayClient(http, api_url, token))

    # ----- database (sync: called in threads) ---------------------------------------------------------

    def _api_url(self, account_id: uuid.UUID) -> str:
        with session_scope(self._engine) as session:
            link = session.get(MondayAccount, account_id)
            if link is None:
                raise MondayNotLinked(f"account {account_id} has not linked monday.com")
            return link.api_url

    def _recipe_spec(self, recipe_id: uuid.UUID) -> Recipe | None:
        with session_scope(self._engine) as session:
            row = session.get(RecipeRow, recipe_id)
            return to_recipe(row) if row is not None else None

    def _rows(self, recipe_id: uuid.UUID) -> list[MondayWebhook]:
        with session_scope(self._engine) as session:
            rows = list(session.scalars(select(MondayWebhook).where(MondayWebhook.recipe_id == recipe_id)))
            session.expunge_all()
            return rows

    def _add_row(self, recipe_id: uuid.UUID, account_id: uuid.UUID, want: Wanted, hashed: str) -> uuid.UUID:
        row = MondayWebhook(
            id=uuid.uuid4(),
            recipe_id=recipe_id,
            account_id=account_id,
            monday_board_id=want.board_id,
            event=want.event,
            column_id=want.column_id,
            secret_hash=hashed,
        )
        with session_scope(self._engine) as session:
            session.add(row)
        return row.id

    def _set_webhook_id(self, row_id: uuid.UUID, webhook_id: str) -> None:
        with session_scope(self._engine) as session:
            row = session.get(MondayWebhook, row_id)
            if row is not None:
                row.monday_webhook_id = webhook_id

    def _delete_row(self, row_id: uuid.UUID) -> None:
        with session_scope(self._engine) as session:
            row = session.get(MondayWebhook, row_id)
            if row is not None:
                session.delete(row)

    def _delete_rows(self, recipe_id: uuid.UUID) -> None:
        with session_scope(self._engine) as session:
            for row in session.scalars(select(MondayWebhook).where(MondayWebhook.recipe_id == recipe_id)):
                session.delete(row)
