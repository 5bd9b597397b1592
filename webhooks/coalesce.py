"""Turns claimed outbox rows into as few workflow signals as possible: per connection, one `notified`
signal with every message id (deduplicated, first-seen order kept) and one `lifecycle` signal per
distinct event. Pure: the forwarder sends the plan and settles each send's rows by its outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from payloads.connection import LifecycleEvent
from payloads.messages import id_bytes
from webhooks.outbox import ClaimedEntry

# NotifiedMessages.message_ids holds at most this many: a larger backlog for one connection becomes
# several signals (still far fewer than one per request).
MAX_IDS_PER_SIGNAL = 1000
# And at most about this many bytes of ids: a quarter of what a connection workflow holds waiting
# (ConnectionTiming.pending_bytes_max), so that a batch always fits once the backlog has drained a little.
MAX_BYTES_PER_SIGNAL = 64_000


def _bytes(message_ids: Sequence[str]) -> int:
    return sum(id_bytes(m) for m in message_ids)


@dataclass
class Send:
    """One signal and the rows that are forwarded once it (and every send before it) went through."""

    row_ids: list[int] = field(default_factory=list)
    message_ids: list[str] | None = None
    lifecycle_event: LifecycleEvent | None = None


@dataclass
class ConnectionPlan:
    connection_id: str
    sends: list[Send] = field(default_factory=list)

    @property
    def row_ids(self) -> list[int]:
        return [row for send in self.sends for row in send.row_ids]


def plan(entries: Sequence[ClaimedEntry]) -> list[ConnectionPlan]:
    """Message signals first, then lifecycle signals; connections in the order of their oldest row."""
    by_connection: dict[str, list[ClaimedEntry]] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        by_connection.setdefault(str(entry.connection_id), []).append(entry)
    return [
        ConnectionPlan(cid, [*_message_sends(rows), *_lifecycle_sends(rows)])
        for cid, rows in by_connection.items()
    ]


def _message_sends(rows: list[ClaimedEntry]) -> list[Send]:
    sends: list[Send] = []
    ids: list[str] = []
    size = 0
    row_ids: list[int] = []
    seen: set[str] = set()
    for row in rows:
        if row.message_ids is None:
            continue
        new = [i for i in dict.fromkeys(row.message_ids) if i not in seen]
        full = len(ids) + len(new) > MAX_IDS_PER_SIGNAL or size + _bytes(new) > MAX_BYTES_PER_SIGNAL
        if new and ids and full:
            sends.append(Send(row_ids, message_ids=ids))
            ids, row_ids, size = [], [], 0
        # A row whose ids all went into earlier sends rides along with this one: the sends go in
        # order and stop at the first failure, so this one succeeding means those did too.
        ids.extend(new)
        size += _bytes(new)
        seen.update(new)
        row_ids.append(row.id)
    if row_ids:
        sends.append(Send(row_ids, message_ids=ids))
    return sends


def _lifecycle_sends(rows: list[ClaimedEntry]) -> list[Send]:
    by_event: dict[LifecycleEvent, Send] = {}
    for row in rows:
        if row.lifecycle_event is not None:
            send = by_event.setdefault(row.lifecycle_event, Send(lifecycle_event=row.lifecycle_event))
            send.row_ids.append(row.id)
    return list(by_event.values())
