"""`MondayBoards`: a monday.com board as the destination of incoming recipes (boards.destination).

Titles to ids: a recipe names its group and columns by title; the board's shape (boards query: groups,
columns) is cached per board for BOARD_TTL seconds and read again once when a title is not found.

Exactly one item per (recipe, message), although monday.com cannot join our database transaction:

1. recipe_ledger (the built-in boards' idempotency table) is consulted first; a completed row answers at
   once, with created=False.
2. Otherwise the key is *claimed* (a row with an empty target) in its own transaction, then the item is
   created on monday.com, then the row is completed with monday.com's id together with the item's
   thread keys (item_threads) in one transaction.
3. The item itself carries the message key: every target board must have a text column titled
   "Message key" (KEY_COLUMN; configurable per MondayBoards), into which create_item writes
   "<recipe id>:<sha256 of the message id>" (the id itself is not written to the board). A board
   without it is refused with a BoardStoreError saying so: hiding the key in the item's name was
   rejected (users rename items, and the name is for people).
4. A retry that finds a claimed but uncompleted row (the worker died, or the call timed out, between
   the remote create and the ledger write) first looks the key up remotely with
   items_page_by_column_values: found -> the oldest such item is recorded and returned
   (created=False); not found -> the earlier attempt never reached monday.com, so it creates now.
   A retry that finds no row at all knows no earlier attempt reached monday.com: it costs no lookup.

Updates have no column to hold a key: a retry after an uncompleted claim reads the item's recent
updates and takes one with the same body made since the claim (minus CLOCK_SKEW) as the earlier
attempt's. Limits, stated: a second identical update within that window from a person would be taken
for ours; and monday.com's search index may lag a fresh item by a moment, which Temporal's retry
backoff (seconds) covers in practice but cannot prove.

Errors: boards.monday.errors types (wrap calls in boards.monday.errors.retry_semantics in activities) and
boards.errors.BoardStoreError when the board does not fit the recipe.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from boards.destination import FileDraft, Written
from boards.draft import ItemDraft
from boards.errors import BoardNotFound, BoardStoreError, ColumnNotFound, GroupNotFound
from boards.monday.api import MondayApi
from boards.monday.client import MondayClient
from boards.monday.column_values import column_by_title, column_values
from boards.monday.errors import MondayNotLinked
from boards.monday.ledger import Entry, MondayLedger
from boards.monday.token_store import MondayTokenStore
from boards.monday.wire import RemoteBoard, RemoteColumn
from db.accounts import User
from db.engine import session_factory
from db.monday_accounts import MondayAccount
from recipes.model import CreateItemAction, CreateUpdateAction, Recipe

KEY_COLUMN = "Message key"
BOARD_TTL = 60.0
CLOCK_SKEW = timedelta(minutes=5)


def message_key(recipe_id: str, message_id: str) -> str:
    """What the item's key column holds: stable per (recipe, message), and no message id in the clear."""
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40]
    return f"{recipe_id}:{digest}"


class MondayBoards:
    def __init__(
        self,
        engine: Engine,
        tokens: MondayTokenStore,
        http: httpx.AsyncClient,
        *,
        key_column: str = KEY_COLUMN,
        board_ttl: float = BOARD_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._ledger = MondayLedger(engine)
        self._tokens = tokens
        self._http = http
        self._key_column = key_column
        self._board_ttl = board_ttl
        self._clock = clock
        self._boards: dict[tuple[str, str], tuple[float, RemoteBoard]] = {}

    # --- Destination ---

    async def item_for_thread(self, recipe: Recipe, thread_keys: Sequence[str]) -> str | None:
        return await asyncio.to_thread(self._ledger.thread_target, recipe.id, list(thread_keys))

    async def made_of(self, recipe: Recipe, message_id: str) -> str | None:
        entry = await asyncio.to_thread(self._ledger.entry, recipe.id, message_id)
        return entry.kind if entry is not None else None

    async def create_item_once(
        self, recipe: Recipe, message_id: str, draft: ItemDraft, thread_keys: Sequence[str]
    ) -> Written:
        board_id = _board_id(recipe)
        done = await asyncio.to_thread(self._ledger.entry, recipe.id, message_id)
        if done is not None and not done.pending:
            return Written(id=done.target_id, created=False)
        api, api_url = await self._api(recipe)
        board = await self._board(api, api_url, board_id)
        key_column = self._key_column_of(board)
        key = message_key(recipe.id, message_id)
        if done is None:
            done = await asyncio.to_thread(
                self._ledger.claim, recipe.id, message_id, recipe.connection_id, "item"
            )
        if done is not None:
            if not done.pending:
                return Written(id=done.target_id, created=False)
            found = await api.items_by_column_values(board.id, key_column.id, [key])
            mine = [item for item in found if item.text_of(key_column.id) == key]
            if mine:
                item_id = min(mine, key=lambda item: item.age_key()).id
                await asyncio.to_thread(self._ledger.complete, recipe.id, message_id, item_id, thread_keys)
                return Written(id=item_id, created=False)
        group_id = await self._group_id(api, api_url, board, draft.group)
        values = await self._values(api, api_url, board, draft.columns)
        values[key_column.id] = key
        item_id = await api.create_item(board.id, group_id, draft.name, values)
        await asyncio.to_thread(self._ledger.complete, recipe.id, message_id, item_id, list(thread_keys))
        return Written(id=item_id, created=True)

    async def add_update_once(self, recipe: Recipe, message_id: str, item_id: str, body: str) -> Written:
        done = await asyncio.to_thread(self._ledger.entry, recipe.id, message_id)
        if done is not None and not done.pending:
            return Written(id=done.target_id, created=False)
        api, _api_url = await self._api(recipe)
        if done is None:
            done = await asyncio.to_thread(
                self._ledger.claim, recipe.id, message_id, recipe.connection_id, "update"
            )
        if done is not None:
            if not done.pending:
                return Written(id=done.target_id, created=False)
            earlier = await self._earlier_update(api, item_id, body, done)
            if earlier is not None:
                await asyncio.to_thread(self._ledger.complete, recipe.id, message_id, earlier, [])
                return Written(id=earlier, created=False)
        update_id = await api.create_update(item_id, body)
        await asyncio.to_thread(self._ledger.complete, recipe.id, message_id, update_id, [])
        return Written(id=update_id, created=True)

    async def find_item(self, recipe: Recipe, column: str, value: str) -> str | None:
        api, api_url = await self._api(recipe)
        board = await self._board(api, api_url, _board_id(recipe))
        target = await self._column(api, api_url, board, column)
        wanted = value.strip()
        if not wanted:
            return None
        # The search matches whole texts; asking for the lower-case spelling too catches the common
        # case difference, and the comparison below applies the contract's case-insensitive rule.
        found = await api.items_by_column_values(
            board.id, target.id, list(dict.fromkeys([wanted, wanted.lower()]))
        )
        matches = [i for i in found if i.text_of(target.id).strip().casefold() == wanted.casefold()]
        return min(matches, key=lambda item: item.age_key()).id if matches else None

    async def attach_files(self, recipe: Recipe, item_id: str, files: Sequence[FileDraft]) -> int:
        if not files:
            return 0
        raise BoardStoreError("attachments are not supported on monday.com boards yet")

    # --- monday.com access ---

    async def api_for(self, recipe: Recipe) -> MondayApi:
        """The recipe's account's monday.com API (outgoing recipes read the item they render from)."""
        api, _api_url = await self._api(recipe)
        return api

    async def _api(self, recipe: Recipe) -> tuple[MondayApi, str]:
        account_id, api_url = await asyncio.to_thread(self._link_of, recipe.owner_id)
        token = await self._tokens.load(account_id)
        return MondayApi(MondayClient(self._http, api_url, token)), api_url

    def _link_of(self, owner_id: str) -> tuple[str, str]:
        with self._sessions() as session:
            user = session.get(User, uuid.UUID(owner_id))
            link = session.get(MondayAccount, user.account_id) if user is not None else None
            if user is None or link is None:
                raise MondayNotLinked("the recipe's account has not linked monday.com")
            return str(user.account_id), link.api_url

    async def _board(
        self, api: MondayApi, api_url: str, board_id: str, *, fresh: bool = False
    ) -> RemoteBoard:
        cached = self._boards.get((api_url, board_id))
        if cached is not None and not fresh and cached[0] > self._clock():
            return cached[1]
        board = await api.board(board_id)
        if board is None:
            raise BoardNotFound(
                f"monday.com board {board_id} does not exist or is not shared with the token's user"
            )
        self._boards[(api_url, board_id)] = (self._clock() + self._board_ttl, board)
        return board

    async def _group_id(self, api: MondayApi, api_url: str, board: RemoteBoard, title: str) -> str:
        found = _group_id(board, title)
        if found is None:
            # Not in the cached shape: read the board again once before refusing.
            found = _group_id(await self._board(api, api_url, board.id, fresh=True), title)
        if found is not None:
            return found
        raise GroupNotFound(f"monday.com board {board.id} has no group titled {title!r}")

    async def _column(self, api: MondayApi, api_url: str, board: RemoteBoard, title: str) -> RemoteColumn:
        try:
            return column_by_title(board, title)
        except ColumnNotFound:
            return column_by_title(await self._board(api, api_url, board.id, fresh=True), title)

    async def _values(
        self, api: MondayApi, api_url: str, board: RemoteBoard, texts: dict[str, str]
    ) -> dict[str, object]:
        try:
            return column_values(board, texts)
        except ColumnNotFound:
            return column_values(await self._board(api, api_url, board.id, fresh=True), texts)

    def _key_column_of(self, board: RemoteBoard) -> RemoteColumn:
        try:
            column = column_by_title(board, self._key_column)
        except ColumnNotFound:
            raise BoardStoreError(
                f"monday.com board {board.id} needs a text column titled {self._key_column!r}: it holds each "
                "item's message key, which keeps items from being created twice"
            ) from None
        if column.type != "text":
            raise BoardStoreError(
                f"column {self._key_column!r} of monday.com board {board.id} must be a text column"
            )
        return column

    async def _earlier_update(self, api: MondayApi, item_id: str, body: str, claim: Entry) -> str | None:
        since = claim.claimed_at.astimezone(UTC) - CLOCK_SKEW
        for update in await api.item_updates(item_id):
            if _same_text(update.body, body) or _same_text(update.text_body or "", body):
                made = _parse_time(update.created_at)
                if made is None or made >= since:
                    return update.id
        return None


def _board_id(recipe: Recipe) -> str:
    action = recipe.action
    if not isinstance(action, CreateItemAction | CreateUpdateAction) or action.destination != "monday":
        raise BoardStoreError(f"recipe {recipe.id} does not write to a monday.com board")
    return action.board_id


def _group_id(board: RemoteBoard, title: str) -> str | None:
    wanted = title.strip().casefold()
    return next((g.id for g in board.groups if g.title.strip().casefold() == wanted), None)


def _same_text(left: str, right: str) -> bool:
    return " ".join(left.split()) == " ".join(right.split())


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
