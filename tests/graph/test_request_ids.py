"""client-request-id values: RFC 9562 version-7 GUIDs carrying the sending instant (48 bits of
milliseconds, then 12 of the millisecond's fraction)."""

from __future__ import annotations

import uuid

from graph.request_ids import new_client_request_id, sent_at


def test_a_version_7_guid_carrying_the_instant_it_was_made() -> None:
    request_id = new_client_request_id(1_796_000_000.1234567)
    value = uuid.UUID(request_id)
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_796_000_000_123  # the millisecond, as RFC 9562 puts it
    stamped = sent_at(request_id)
    assert stamped is not None and 0 <= 1_796_000_000.1234567 - stamped < 2e-6


def test_ids_made_in_the_same_millisecond_differ_and_sort_by_time() -> None:
    same = {new_client_request_id(1_796_000_000.0) for _ in range(1000)}
    assert len(same) == 1000
    assert new_client_request_id(1_796_000_000.0) < new_client_request_id(1_796_000_000.002)


def test_other_ids_carry_no_time() -> None:
    assert sent_at(str(uuid.uuid4())) is None
    assert sent_at("not-a-guid") is None
    assert sent_at(None) is None
