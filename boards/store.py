"""The built-in board store as the message workflow's activities see it: write an item or an update
exactly once per (recipe, message), remember which item a conversation belongs to, find items, attach
files.

Sync on purpose (SQLAlchemy on an Engine); async callers use asyncio.to_thread (boards/builtin.py). The
ledger row and the item (or update) are written in one transaction, the ledger row first: it claims the
key, so a concurrent or repeated call fails on the primary key before writing anything and then reads
the winner's id. A crash before commit leaves neither; after commit, both. The item's thread keys and its
item_created event are written in that same transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from boards import items, values
from boards.columns import BoardColumns
from boards.destination import FileDraft, ThreadTaken
from boards.draft import ItemDraft
from boards.errors import BoardNotFound, ItemNotFound
from boards.files import check_sizes, clean_content_type, clean_name
from db.boards import Board, BoardItem, LedgerEntry
from db.engine import session_factory, session_scope
from db.item_files import ItemFile
from db.item_threads import ItemThread

ITEM_NAME_MAX = items.ITEM_NAME_MAX
THREAD_KEY_MAX = 600


def _uuid(value: str, error: type[Exception], what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise error(f"{what} {value!r} is not an id of this board store") from None


def _thread_keys(keys: Iterable[str]) -> list[str]:
    """Distinct, in the caller's order; a key longer than the column keeps a prefix and its hash (an
    internetMessageId has no length limit)."""
    result: list[str] = []
    for key in keys:
        if len(key) > THREAD_KEY_MAX:
            key = key[: THREAD_KEY_MAX - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()
        if key and key not in result:
            result.append(key)
    return result


class BoardStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def made_of(self, recipe_id: str, message_id: str) -> str | None:
        """What the recipe made of the message ("item" or "update"), if anything: the ledger's kind."""
        with session_factory(self._engine)() as session:
            entry = session.get(LedgerEntry, (recipe_id, message_id))
            return None if entry is None else entry.kind

    def created_for(self, recipe_id: str, message_id: str) -> str | None:
        """The id of what the recipe made of the message, if anything."""
        with session_factory(self._engine)() as session:
            return self._ledger(session, recipe_id, message_id)

    def create_item_once(
        self,
        *,
        recipe_id: str,
        message_id: str,
        connection_id: str,
        draft: ItemDraft,
        board_id: str,
        thread_keys: Sequence[str] = (),
    ) -> tuple[str, bool]:
        """(item id, True) when this call created the item; (the existing item's id, False) when the
        recipe already made an item of this message. The thread keys become the item's, and its
        item_created event is recorded, in the same transaction.

        Raises ThreadTaken(item id) when a thread key already belongs to another (existing) item of the
        recipe, e.g. a concurrent message of the same conversation: nothing is written, the caller makes
        an update on that item instead. Raises a BoardStoreError when the board, group or a column no
        longer exists or a value does not fit its column's type (nothing is written then either)."""
        existing = self.created_for(recipe_id, message_id)
        if existing is not None:
            return existing, False
        board_uuid = _uuid(board_id, BoardNotFound, "board")
        keys = _thread_keys(thread_keys)
        item_id = uuid.uuid4()
        try:
            with session_scope(self._engine) as session:
                self._claim(session, recipe_id, message_id, connection_id, "item", item_id)
                board = session.get(Board, board_uuid)
                if board is None:
                    raise BoardNotFound(f"board {board_id} does not exist")
                self._take_threads(session, recipe_id, keys, item_id)
                items.create_item(
                    session,
                    board,
                    name=draft.name,
                    group=draft.group,
                    columns=draft.columns,
                    fit=True,
                    item_id=item_id,
                )
        except IntegrityError:
            # Lost a race: to a repeat of this message (the ledger's key), or to another message of the
            # same conversation (a thread key).
            winner = self.created_for(recipe_id, message_id)
            if winner is not None:
                return winner, False
            holder = self.item_for_thread(recipe_id, keys)
            if holder is not None:
                raise ThreadTaken(holder) from None
            raise
        return str(item_id), True

    def item_for_thread(self, recipe_id: str, thread_keys: Sequence[str]) -> str | None:
        """The existing item this recipe made for any of these keys (the first key found, in the
        caller's order); None when none, or when that item was deleted since."""
        keys = _thread_keys(thread_keys)
        if not keys:
            return None
        with session_factory(self._engine)() as session:
            found = self._threads(session, recipe_id, keys)
            for key in keys:
                target = found.get(key)
                if target is not None and self._item_exists(session, target):
                    return target
        return None

    def add_update_once(
        self, *, recipe_id: str, message_id: str, connection_id: str, item_id: str, body: str
    ) -> tuple[str, bool]:
        """(update id, created) like create_item_once, for an update on an existing item. The body's
        HTML is sanitised before it is stored."""
        existing = self.created_for(recipe_id, message_id)
        if existing is not None:
            return existing, False
        item_uuid = _uuid(item_id, ItemNotFound, "item")
        update_id = uuid.uuid4()
        try:
            with session_scope(self._engine) as session:
                self._claim(session, recipe_id, message_id, connection_id, "update", update_id)
                item = session.get(BoardItem, item_uuid)
                if item is None:
                    raise ItemNotFound(f"item {item_id} does not exist")
                items.add_update(session, item, body, update_id=update_id)
        except IntegrityError:
            winner = self.created_for(recipe_id, message_id)
            if winner is None:
                raise
            return winner, False
        return str(update_id), True

    def find_item(self, board_id: str, column_title: str, value: str) -> str | None:
        """The oldest item of the board whose column equals value, ignoring case and surrounding spaces;
        None when no item does (or value is empty). Raises BoardNotFound or ColumnNotFound when the board
        or the column is gone."""
        board_uuid = _uuid(board_id, BoardNotFound, "board")
        with session_factory(self._engine)() as session:
            board = session.get(Board, board_uuid)
            if board is None:
                raise BoardNotFound(f"board {board_id} does not exist")
            column = BoardColumns.load(session, board).find(column_title)
            if not value.strip():
                return None
            rows = session.execute(
                select(BoardItem.id, BoardItem.column_values)
                .where(BoardItem.board_id == board_uuid)
                .order_by(BoardItem.created_at, BoardItem.id)
                .execution_options(yield_per=500)
            )
            for row_id, stored in rows:
                if values.same(json.loads(stored).get(column.key), value):
                    return str(row_id)
        return None

    def attach_files(self, item_id: str, files: Sequence[FileDraft]) -> int:
        """Puts the files on the item, skipping any whose name the item already has (so a retry adds
        nothing twice); how many it added. All or nothing: raises FilesTooLarge, writing nothing, when a
        file is over boards.files.FILE_MAX or the item's files would be over ITEM_FILES_MAX together."""
        item_uuid = _uuid(item_id, ItemNotFound, "item")
        if not files:
            return 0
        with session_scope(self._engine) as session:
            # A no-op write first: it takes the item's row lock (PostgreSQL) or the write lock (SQLite),
            # so two retries of one attach cannot both see "not there yet" and add a file twice.
            locked = session.execute(
                update(BoardItem)
                .where(BoardItem.id == item_uuid)
                .values(name=BoardItem.name)
                .execution_options(synchronize_session=False)
            )
            if getattr(locked, "rowcount", 0) != 1:
                raise ItemNotFound(f"item {item_id} does not exist")
            present = {
                name: size
                for name, size in session.execute(
                    select(ItemFile.name, ItemFile.size).where(ItemFile.item_id == item_uuid)
                )
            }
            new: dict[str, FileDraft] = {}
            for draft in files:
                name = clean_name(draft.name)
                if name not in present and name not in new:
                    new[name] = draft
            check_sizes(item_id, sum(present.values()), [len(d.content) for d in new.values()])
            session.add_all(
                ItemFile(
                    id=uuid.uuid4(),
                    item_id=item_uuid,
                    name=name,
                    content_type=clean_content_type(draft.content_type),
                    size=len(draft.content),
                    content=draft.content,
                )
                for name, draft in new.items()
            )
        return len(new)

    # ----- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _ledger(session: Session, recipe_id: str, message_id: str) -> str | None:
        entry = session.get(LedgerEntry, (recipe_id, message_id))
        return None if entry is None else entry.target_id

    @staticmethod
    def _claim(
        session: Session, recipe_id: str, message_id: str, connection_id: str, kind: str, target: uuid.UUID
    ) -> None:
        session.add(
            LedgerEntry(
                recipe_id=recipe_id,
                message_id=message_id,
                connection_id=connection_id,
                kind=kind,
                target_id=str(target),
            )
        )
        session.flush()

    def _threads(self, session: Session, recipe_id: str, keys: list[str]) -> dict[str, str]:
        rows = session.execute(
            select(ItemThread.thread_key, ItemThread.target_id).where(
                ItemThread.recipe_id == recipe_id, ItemThread.thread_key.in_(keys)
            )
        )
        return {key: target for key, target in rows}

    @staticmethod
    def _item_exists(session: Session, target: str) -> bool:
        try:
            return session.get(BoardItem, uuid.UUID(target)) is not None
        except ValueError:
            return False

    def _take_threads(self, session: Session, recipe_id: str, keys: list[str], item_id: uuid.UUID) -> None:
        """Records the keys as the new item's. A key of an item deleted since is taken over (the
        conversation starts afresh); a key of an existing item raises ThreadTaken."""
        if not keys:
            return
        for key, target in self._threads(session, recipe_id, keys).items():
            if self._item_exists(session, target):
                raise ThreadTaken(target)
            session.execute(
                delete(ItemThread).where(ItemThread.recipe_id == recipe_id, ItemThread.thread_key == key)
            )
        session.add_all(
            ItemThread(recipe_id=recipe_id, thread_key=key, target_id=str(item_id)) for key in keys
        )
        # Now, not at commit: a concurrent writer's key fails here, inside the try of the caller.
        session.flush()
