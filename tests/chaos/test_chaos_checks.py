"""The chaos suite's checks on the emulator's logs (chaos/checks.py), on made-up entries: an early call
is one that reached Graph after a Retry-After answer for the same app and mailbox and before it ran out
(a call already on its way when the 429 was answered is not); acknowledged means answered 2xx."""

from __future__ import annotations

from typing import Any

from chaos.checks import IN_FLIGHT_SLACK, _sent_subject, acknowledged_inbox_ids, early_calls


def call(
    started: float, *, mailbox: str = "a@x", status: int = 200, retry_after: float | None = None
) -> dict[str, Any]:
    return {
        "started": started,
        "time": started + 0.01,
        "client_id": "app",
        "mailbox": mailbox,
        "path": "/v1.0/me/messages/1",
        "status": status,
        "retry_after": retry_after,
    }


def test_a_call_before_the_retry_after_ran_out_is_early() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)  # answered at 100.01, gate until 101.01
    deferrals, early = early_calls([throttled, call(100.5), call(101.2)])
    assert deferrals == 1
    assert [round(e.gap, 2) for e in early] == [0.49]


def test_calls_on_their_way_other_mailboxes_and_later_calls_are_not_early() -> None:
    throttled = call(100.0, status=429, retry_after=1.0)
    on_the_wire = call(100.01 + IN_FLIGHT_SLACK / 2)
    elsewhere = call(100.5, mailbox="b@x")
    after = call(101.02)
    assert early_calls([throttled, on_the_wire, elsewhere, after]) == (1, [])


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
