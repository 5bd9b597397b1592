"""The chaos suite's checks on the emulator's logs (chaos/checks.py), on made-up entries: an early call
is one the service sent, by the time its version-7 client-request-id carries, while a Retry-After
answer for the same app and mailbox held it (from when the service logged the hold, or else from the
answer); a call already on its way is not, however late it reached the emulator. Acknowledged means
answered 2xx."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.checks import _sent_subject, acknowledged_inbox_ids, early_calls, holds_in_logs
from graph.request_ids import new_client_request_id


def call(
    sent: float,
    *,
    arrived: float | None = None,
    mailbox: str = "a@x",
    status: int = 200,
    retry_after: float | None = None,
) -> dict[str, Any]:
    started = sent if arrived is None else arrived
    return {
        "started": started,
        "time": started + 0.01,
        "client_id": "app",
        "mailbox": mailbox,
        "path": "/v1.0/me/messages/1",
        "status": status,
        "retry_after": retry_after,
        "client_request_id": new_client_request_id(sent),
    }


def test_a_call_sent_before_the_retry_after_ran_out_is_early() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)  # answered at 100.01, gate until 101.01
    found = early_calls([throttled, call(100.5), call(101.2)])
    assert (found.answers, found.holds_logged, found.arrived_late) == (1, 0, 1)
    assert [round(e.gap, 2) for e in found.early] == [0.49]


def test_a_call_sent_in_the_answers_millisecond_counts_as_early() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)  # answered at 100.01
    assert len(early_calls([throttled, call(100.0101)]).early) == 1


def test_calls_on_their_way_other_mailboxes_and_later_calls_are_not_early() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)
    # Sent before the 429 was answered, reaching a busy emulator half a second later.
    on_the_wire = call(100.005, arrived=100.5)
    elsewhere = call(100.5, mailbox="b@x")
    after = call(101.02)
    found = early_calls([throttled, on_the_wire, elsewhere, after])
    assert (found.answers, found.arrived_late, found.early) == (1, 1, [])


def test_the_logged_hold_is_what_counts(tmp_path: Path) -> None:
    throttled = call(100.0, status=429, retry_after=1.0)  # answered at 100.01
    # The service read the answer 40 ms later and logged its hold then (JSON and text lines alike).
    log = tmp_path / "worker.log"
    log.write_text(
        "2026-12-07 uvicorn: started\n"
        + json.dumps({"level": "WARNING", "message": hold_line(throttled, 100.05, 101.05)})
        + "\n"
    )
    holds = holds_in_logs([log, tmp_path / "absent.log"])
    assert holds == {throttled["client_request_id"]: (100.05, 101.05)}
    before_read = call(100.03)  # sent before the service knew of the 429
    during = call(100.06)
    after_answer_window = call(101.03)  # after the answer's window, inside the hold
    found = early_calls([throttled, before_read, during, after_answer_window], holds)
    assert (found.answers, found.holds_logged) == (1, 1)
    assert [e.gap for e in found.early] == [0.01, 0.98]


def hold_line(throttled: dict[str, Any], begins: float, ends: float) -> str:
    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")

    return (
        f"Graph throttled this mailbox (client-request-id {throttled['client_request_id']}): "
        f"no call to it from {iso(begins)} until {iso(ends)}"
    )


def test_without_a_version_7_id_the_arrival_counts() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)
    unstamped = {**call(100.005, arrived=100.5), "client_request_id": "not-a-uuid"}
    assert len(early_calls([throttled, unstamped]).early) == 1


def test_acknowledged_means_a_2xx_answer_to_a_change_notification_of_the_run() -> None:
    log: list[dict[str, Any]] = [
        {"message_id": "m1", "change_type": "created", "acknowledged": True},
        {"message_id": "m2", "change_type": "created", "acknowledged": False},
        {"message_id": None, "lifecycle_event": "missed", "change_type": None, "acknowledged": True},
        {"message_id": "other", "change_type": "created", "acknowledged": True},
    ]
    assert acknowledged_inbox_ids(log, {"m1", "m2"}) == {"m1"}


def test_the_subject_of_a_sendmail_record_is_inside_its_request_body() -> None:
    assert _sent_subject({"message": {"message": {"subject": "Chaos: x"}, "saveToSentItems": True}}) == (
        "Chaos: x"
    )
    assert _sent_subject({"message": {"subject": "reply", "comment": "ok"}}) == "reply"
