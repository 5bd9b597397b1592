"""Planning the signals for claimed outbox rows: one `notified` per connection (ids deduplicated, first
seen order kept, split only past what one signal may carry) and one `lifecycle` per distinct event."""

from __future__ import annotations

import uuid

from payloads.connection import LifecycleEvent
from payloads.messages import NotifiedMessages
from webhooks.coalesce import MAX_BYTES_PER_SIGNAL, MAX_IDS_PER_SIGNAL, plan
from webhooks.outbox import ClaimedEntry

A, B = uuid.uuid4(), uuid.uuid4()


def change(row_id: int, connection: uuid.UUID, *ids: str) -> ClaimedEntry:
    return ClaimedEntry(id=row_id, connection_id=connection, message_ids=list(ids))


def lifecycle(row_id: int, connection: uuid.UUID, event: LifecycleEvent) -> ClaimedEntry:
    return ClaimedEntry(id=row_id, connection_id=connection, lifecycle_event=event)


def test_one_signal_per_connection_with_ids_deduplicated_in_order():
    rows = [
        change(3, A, "m3", "m1"),
        change(1, A, "m1", "m2"),
        change(2, B, "x1"),
        lifecycle(4, A, LifecycleEvent.MISSED),
        change(5, A, "m2", "m4"),
        lifecycle(6, A, LifecycleEvent.MISSED),
        lifecycle(7, A, LifecycleEvent.REAUTHORIZATION_REQUIRED),
        change(8, B, "x1"),
    ]
    plans = plan(rows)
    assert [p.connection_id for p in plans] == [str(A), str(B)]  # by oldest row
    a, b = plans
    assert [(s.message_ids, s.lifecycle_event, s.row_ids) for s in a.sends] == [
        (["m1", "m2", "m3", "m4"], None, [1, 3, 5]),
        (None, LifecycleEvent.MISSED, [4, 6]),
        (None, LifecycleEvent.REAUTHORIZATION_REQUIRED, [7]),
    ]
    assert [(s.message_ids, s.row_ids) for s in b.sends] == [(["x1"], [2, 8])]
    assert sorted(a.row_ids + b.row_ids) == list(range(1, 9))


def test_a_backlog_past_one_signals_limit_is_split_at_row_boundaries():
    rows = [change(n, A, *(f"r{n}-{i}" for i in range(400))) for n in range(1, 6)]  # 2,000 ids
    rows.append(change(6, A, "r1-0", "r5-399"))  # nothing new: rides with the last send
    [only] = plan(rows)
    sizes = [len(s.message_ids or []) for s in only.sends]
    assert sizes == [800, 800, 400]
    assert [s.row_ids for s in only.sends] == [[1, 2], [3, 4], [5, 6]]
    # Every send is a valid signal argument (the model's own limit, not just ours).
    for send in only.sends:
        NotifiedMessages(message_ids=send.message_ids or [])
    all_ids = [i for s in only.sends for i in s.message_ids or []]
    assert len(all_ids) == len(set(all_ids)) == 2000
    assert max(sizes) <= MAX_IDS_PER_SIGNAL


def test_a_full_request_fills_one_signal_exactly():
    [only] = plan([change(1, A, *(f"id{i}" for i in range(MAX_IDS_PER_SIGNAL))), change(2, A, "one-more")])
    assert [len(s.message_ids or []) for s in only.sends] == [MAX_IDS_PER_SIGNAL, 1]
    NotifiedMessages(message_ids=only.sends[0].message_ids or [])


def test_a_batch_is_split_past_its_bytes_as_well_as_its_count():
    """Long ids: each batch stays within MAX_BYTES_PER_SIGNAL, so it fits a connection's waiting room."""
    rows = [change(n, A, *(f"{n}-{k}".ljust(1000, "x") for k in range(10))) for n in range(1, 21)]
    [a] = plan(rows)
    sizes = [sum(len(m) + 4 for m in s.message_ids or []) for s in a.sends]
    assert all(size <= MAX_BYTES_PER_SIGNAL for size in sizes)
    assert len(a.sends) == 4  # 6 rows (60 ids, 60,240 bytes) a batch
    assert [m for s in a.sends for m in s.message_ids or []] == [m for r in rows for m in r.message_ids or []]
