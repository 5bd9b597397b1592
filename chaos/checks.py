"""What every fault is checked for, read from the app database and the emulator's logs:
- every expected item exists exactly once (the ledger names each email's item; the boards show copies),
- no item from mail delivered into junk, deleted items or sent items,
- no Graph call started before the Retry-After of an earlier answer to the same app and mailbox had
  run out (the emulator's request log),
- nothing acknowledged to Graph was lost: every inbox email whose change notification the service
  answered 2xx has its item (the emulator's notification log),
- connections: only a revoked one stopped, with its reason,
- the outgoing recipe sent one email per item created on its board (the sender's sent mail)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from chaos.load import SEND_PREFIX, Load
from db.boards import BoardItem, LedgerEntry
from db.connections import Connection
from db.engine import session_scope
from tests.e2e.conftest import Stack

# A call the client had already sent when the 429 was answered reaches the emulator's handler a little
# later on a busy machine: such calls are not counted as early. Anything after this is.
IN_FLIGHT_SLACK = 0.1


@dataclass
class Made:
    """The items of a run, from the ledger and the boards."""

    ledger: dict[str, datetime] = field(default_factory=dict)  # message id -> when its item was made
    duplicates: int = 0  # board items beyond one per name
    refused_items: int = 0  # items whose email was in a refused folder (ledger or board)
    on_boards: int = 0


def made(stack: Stack, load: Load) -> Made:
    boards = [uuid.UUID(b.board_id) for b in load.boxes]
    connections = [b.connection_id for b in load.boxes]
    result = Made()
    with session_scope(stack.engine) as session:
        for message_id, created in session.execute(
            select(LedgerEntry.message_id, LedgerEntry.created_at).where(
                LedgerEntry.connection_id.in_(connections), LedgerEntry.kind == "item"
            )
        ):
            result.ledger[message_id] = created
        names = Counter(
            (board, name)
            for board, name in session.execute(
                select(BoardItem.board_id, BoardItem.name).where(BoardItem.board_id.in_(boards))
            )
        )
    result.on_boards = sum(names.values())
    result.duplicates = sum(n - 1 for n in names.values() if n > 1)
    refused_names = {(uuid.UUID(box.board_id), subject) for box, subject in load.refused.values()}
    result.refused_items = sum(1 for m in load.refused if m in result.ledger) + sum(
        n for key, n in names.items() if key in refused_names
    )
    return result


def expected_ids(load: Load, excluded: set[str]) -> list[str]:
    """Inbox mail of the connections not excluded (a revoked connection's mail may never be read)."""
    return [m for m in load.order if load.inbox[m][0].connection_id not in excluded]


def count_made(stack: Stack, load: Load, excluded: set[str]) -> int:
    ids = set(expected_ids(load, excluded))
    connections = [b.connection_id for b in load.boxes if b.connection_id not in excluded]
    with session_scope(stack.engine) as session:
        rows = session.scalars(
            select(LedgerEntry.message_id).where(
                LedgerEntry.connection_id.in_(connections), LedgerEntry.kind == "item"
            )
        )
        return sum(1 for m in rows if m in ids)


@dataclass
class EarlyCall:
    mailbox: str
    path: str
    retry_after: float
    gap: float  # seconds after the 429's answer the call started


def early_calls(requests: list[dict[str, Any]]) -> tuple[int, list[EarlyCall]]:
    """(answers with Retry-After, calls that started before one of them had run out). Per app and
    mailbox, as Outlook throttles."""
    by_key: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for entry in requests:
        by_key.setdefault((entry.get("client_id"), entry.get("mailbox")), []).append(entry)
    deferrals = 0
    early: list[EarlyCall] = []
    for (_client, mailbox), entries in by_key.items():
        entries.sort(key=lambda e: e.get("started", e["time"]))
        gates = [(e["time"], e["retry_after"]) for e in entries if e.get("retry_after")]
        deferrals += len(gates)
        if not gates:
            continue
        for entry in entries:
            started = entry.get("started", entry["time"])
            for answered, wait in gates:
                if answered + IN_FLIGHT_SLACK < started < answered + wait:
                    early.append(EarlyCall(str(mailbox), entry["path"], wait, round(started - answered, 3)))
                    break
    return deferrals, early


def acknowledged_inbox_ids(notifications: list[dict[str, Any]], ids: set[str]) -> set[str]:
    """Inbox emails of the run with a change notification the service answered 2xx."""
    return {
        e["message_id"]
        for e in notifications
        if e.get("acknowledged") and e.get("change_type") and e.get("message_id") in ids
    }


def connection_states(stack: Stack, load: Load) -> dict[str, tuple[str, str]]:
    """connection id -> (status, reason)."""
    ids = [uuid.UUID(b.connection_id) for b in load.boxes]
    with session_scope(stack.engine) as session:
        rows = session.execute(
            select(Connection.id, Connection.status, Connection.status_reason).where(Connection.id.in_(ids))
        )
        return {str(i): (status, reason or "") for i, status, reason in rows}


@dataclass
class Sends:
    items: int  # items on the sender's board
    sent: int  # emails the outgoing recipe sent
    duplicated: int  # sends beyond one per item
    missing: int  # items without their email


def sends(stack: Stack, load: Load, sent_log: list[dict[str, Any]]) -> Sends:
    with session_scope(stack.engine) as session:
        board = uuid.UUID(load.sender.board_id)
        names = list(session.scalars(select(BoardItem.name).where(BoardItem.board_id == board)))
    sent = [s for s in map(_sent_subject, sent_log) if s.startswith(SEND_PREFIX)]
    subjects = Counter(s[len(SEND_PREFIX) :] for s in sent)
    return Sends(
        items=len(names),
        sent=sum(subjects.values()),
        duplicated=sum(n - 1 for n in subjects.values() if n > 1),
        missing=sum(1 for name in set(names) if name not in subjects),
    )


def _sent_subject(entry: dict[str, Any]) -> str:
    """The subject of a sent-mail record (sendMail records its request body: {"message": {...}})."""
    body = entry.get("message") or {}
    message = body.get("message", body) if isinstance(body, dict) else {}
    return str(message.get("subject", "")) if isinstance(message, dict) else ""


def item_count(stack: Stack, board_id: str) -> int:
    with session_scope(stack.engine) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(BoardItem).where(BoardItem.board_id == uuid.UUID(board_id))
            )
            or 0
        )
