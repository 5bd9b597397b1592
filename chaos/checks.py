"""What every fault is checked for, read from the app database and the emulator's logs:
- every expected item exists exactly once (the ledger names each email's item; the boards show copies),
- no item from mail delivered into junk, deleted items or sent items,
- no Graph call sent before the Retry-After of an earlier answer to the same app and mailbox had run
  out (the emulator's request log, each call's client-request-id and the holds the service logged),
- nothing acknowledged to Graph was lost: every inbox email whose change notification the service
  answered 2xx has its item (the emulator's notification log),
- connections: only a revoked one stopped, with its reason,
- the outgoing recipe sent one email per item created on its board (the sender's sent mail)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from chaos.load import SEND_PREFIX, Load
from db.boards import BoardItem, LedgerEntry
from db.connections import Connection
from db.engine import session_scope
from graph.limits import logged_holds
from graph.request_ids import SENT_AT_RESOLUTION, sent_at
from tests.e2e.conftest import Stack


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
    gap: float  # seconds after the hold began the call was sent


def holds_in_logs(paths: list[Path]) -> dict[str, tuple[float, float]]:
    """client-request-id of a throttled call -> (from, until): the Unix times between which the
    service held that mailbox, as its processes logged them (graph/limits.py)."""
    holds: dict[str, tuple[float, float]] = {}
    for path in paths:
        if path.exists():
            holds.update(logged_holds(path.read_text(errors="replace")))
    return holds


def _sent_window(entry: dict[str, Any]) -> tuple[float, float]:
    """When the client let the call go: the instant its version-7 client-request-id names; without
    one, the instant the call reached the emulator."""
    sent = sent_at(entry.get("client_request_id"))
    if sent is None:
        started = float(entry.get("started", entry["time"]))
        return started, started
    return sent, sent + SENT_AT_RESOLUTION


@dataclass
class Throttling:
    answers: int = 0  # answers with Retry-After
    holds_logged: int = 0  # of those, the ones the service logged a hold for
    arrived_late: int = 0  # calls that reached the emulator after such an answer, before it ran out
    early: list[EarlyCall] = field(default_factory=list)  # of those, the ones sent during a hold


def early_calls(
    requests: list[dict[str, Any]], holds: dict[str, tuple[float, float]] | None = None
) -> Throttling:
    """The calls sent before a Retry-After had run out. Per app and mailbox, as Outlook throttles.

    A call counts from when the client sent it (its client-request-id), not from when it reached the
    emulator: one sent before the client had read the 429 was already on its way, however late a busy
    emulator's handler saw it (those are `arrived_late` but not early). The hold starts when the
    service logged it (`holds`, from its logs): what the service sent after that and before the
    Retry-After ran out, from any of its processes, is early. A 429 with no logged hold counts from the
    emulator's answer, which is stricter."""
    holds = holds or {}
    by_key: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for entry in requests:
        by_key.setdefault((entry.get("client_id"), entry.get("mailbox")), []).append(entry)
    result = Throttling()
    for (_client, mailbox), entries in by_key.items():
        throttled = [e for e in entries if e.get("retry_after")]
        result.answers += len(throttled)
        result.holds_logged += sum(1 for e in throttled if e.get("client_request_id") in holds)
        answered = [(e["time"], e["time"] + e["retry_after"]) for e in throttled]
        gates = [
            (*holds.get(e.get("client_request_id") or "", window), e)
            for e, window in zip(throttled, answered, strict=True)
        ]
        for entry in entries:
            arrived = float(entry.get("started", entry["time"]))
            result.arrived_late += any(begins < arrived < ends for begins, ends in answered)
            first, last = _sent_window(entry)
            for begins, ends, answer in gates:
                if last > begins and first < ends:
                    gap = round(first - begins, 6)
                    result.early.append(EarlyCall(str(mailbox), entry["path"], answer["retry_after"], gap))
                    break
    return result


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
