"""The built-in board store as the message workflow's activities see it: write an item or an update
exactly once per (recipe, message).

Sync on purpose (SQLAlchemy on an Engine); async callers use asyncio.to_thread. The ledger row and the
item (or update) are written in one transaction, the ledger row first: it claims the key, so a
concurrent or repeated call fails on the primary key before writing anything and then reads the winner's
id. A crash before commit leaves neither; after commit, both.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from boards.draft import ItemDraft
from boards.errors import BoardNotFound, ColumnNotFound, GroupNotFound, ItemNotFound
from db.boards import Board, BoardColumn, BoardGroup, BoardItem, ItemUpdate, LedgerEntry
from db.engine import session_factory, session_scope

ITEM_NAME_MAX = 500


def _uuid(value: str, error: type[Exception], what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise error(f"{what} {value!r} is not an id of this board store") from None


class BoardStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def created_for(self, recipe_id: str, message_id: str) -> str | None:
        """The id of what the recipe made of the message, if anything."""
        with session_factory(self._engine)() as session:
            return self._ledger(session, recipe_id, message_id)

    def create_item_once(
        self, *, recipe_id: str, message_id: str, connection_id: str, draft: ItemDraft, board_id: str
    ) -> tuple[str, bool]:
        """(item id, True) when this call created the item; (the existing item's id, False) when the
        recipe already made an item of this message. Raises a BoardStoreError when the board, group or a
        column no longer exists (nothing is written then)."""
        existing = self.created_for(recipe_id, message_id)
        if existing is not None:
            return existing, False
        board_uuid = _uuid(board_id, BoardNotFound, "board")
        item_id = uuid.uuid4()
        try:
            with session_scope(self._engine) as session:
                self._claim(session, recipe_id, message_id, connection_id, "item", item_id)
                group_id, values = self._resolve(session, board_uuid, draft)
                session.add(
                    BoardItem(
                        id=item_id,
                        board_id=board_uuid,
                        group_id=group_id,
                        name=draft.name[:ITEM_NAME_MAX],
                        column_values=json.dumps(values, ensure_ascii=False, sort_keys=True),
                    )
                )
        except IntegrityError:
            winner = self.created_for(recipe_id, message_id)
            if winner is None:  # another constraint failed, not the ledger's key
                raise
            return winner, False
        return str(item_id), True

    def add_update_once(
        self, *, recipe_id: str, message_id: str, connection_id: str, item_id: str, body: str
    ) -> tuple[str, bool]:
        """(update id, created) like create_item_once, for an update on an existing item."""
        existing = self.created_for(recipe_id, message_id)
        if existing is not None:
            return existing, False
        item_uuid = _uuid(item_id, ItemNotFound, "item")
        update_id = uuid.uuid4()
        try:
            with session_scope(self._engine) as session:
                self._claim(session, recipe_id, message_id, connection_id, "update", update_id)
                if session.get(BoardItem, item_uuid) is None:
                    raise ItemNotFound(f"item {item_id} does not exist")
                session.add(ItemUpdate(id=update_id, item_id=item_uuid, body=body))
        except IntegrityError:
            winner = self.created_for(recipe_id, message_id)
            if winner is None:
                raise
            return winner, False
        return str(update_id), True

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

    @staticmethod
    def _resolve(session: Session, board_id: uuid.UUID, draft: ItemDraft) -> tuple[uuid.UUID, dict[str, str]]:
        """The group's id and the values keyed by column id, from the draft's titles."""
        board = session.get(Board, board_id)
        if board is None:
            raise BoardNotFound(f"board {board_id} does not exist")
        group_id = session.scalar(
            select(BoardGroup.id).where(BoardGroup.board_id == board_id, BoardGroup.title == draft.group)
        )
        if group_id is None:
            raise GroupNotFound(f"board {board.name!r} has no group {draft.group!r}")
        columns = {
            title: str(column_id)
            for column_id, title in session.execute(
                select(BoardColumn.id, BoardColumn.title).where(BoardColumn.board_id == board_id)
            )
        }
        missing = sorted(set(draft.columns) - set(columns))
        if missing:
            raise ColumnNotFound(f"board {board.name!r} has no column {missing[0]!r}")
        return group_id, {columns[title]: value for title, value in draft.columns.items()}
