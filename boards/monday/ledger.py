"""The local half of monday.com idempotency: recipe_ledger rows and item_threads, read and written in
worker threads by MondayBoards.

A row is claimed (target_id "") before the remote call and completed with the remote id after it; a
claimed but uncompleted row means an earlier attempt may have written to monday.com (see
boards/monday/destination.py for how a retry then finds what it wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.boards import LedgerEntry
from db.engine import session_factory
from db.item_threads import ItemThread

PENDING = ""


@dataclass(frozen=True)
class Entry:
    target_id: str
    claimed_at: datetime
    kind: str  # "item" or "update"

    @property
    def pending(self) -> bool:
        return self.target_id == PENDING


class MondayLedger:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def entry(self, recipe_id: str, message_id: str) -> Entry | None:
        with self._sessions() as session:
            row = session.get(LedgerEntry, (recipe_id, message_id))
            return Entry(row.target_id, row.created_at, row.kind) if row is not None else None

    def claim(self, recipe_id: str, message_id: str, connection_id: str, kind: str) -> Entry | None:
        """Claims the key; None when this call claimed it, else the entry already there."""
        with self._sessions() as session:
            session.add(
                LedgerEntry(
                    recipe_id=recipe_id,
                    message_id=message_id,
                    connection_id=connection_id,
                    kind=kind,
                    target_id=PENDING,
                )
            )
            try:
                session.commit()
                return None
            except IntegrityError:
                session.rollback()
        return self.entry(recipe_id, message_id)

    def complete(self, recipe_id: str, message_id: str, target_id: str, thread_keys: Sequence[str]) -> None:
        """Records the remote id and (for items) the thread keys, in one transaction."""
        for attempt in range(2):
            with self._sessions() as session:
                row = session.get_one(LedgerEntry, (recipe_id, message_id))
                row.target_id = target_id
                _add_threads(session, recipe_id, thread_keys, target_id)
                try:
                    session.commit()
                    return
                except IntegrityError:
                    # Another item of the conversation took a thread key meanwhile: keep its claim.
                    session.rollback()
                    if attempt:
                        raise

    def thread_target(self, recipe_id: str, thread_keys: Sequence[str]) -> str | None:
        if not thread_keys:
            return None
        with self._sessions() as session:
            rows = session.scalars(
                select(ItemThread)
                .where(ItemThread.recipe_id == recipe_id, ItemThread.thread_key.in_(list(thread_keys)))
                .order_by(ItemThread.created_at)
            ).all()
            return rows[0].target_id if rows else None


def _add_threads(session: Session, recipe_id: str, thread_keys: Sequence[str], target_id: str) -> None:
    for key in dict.fromkeys(thread_keys):
        # The first item a conversation got keeps it: a later one never takes it over.
        if session.get(ItemThread, (recipe_id, key)) is None:
            session.add(ItemThread(recipe_id=recipe_id, thread_key=key, target_id=target_id))
