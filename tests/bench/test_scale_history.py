"""The scale benchmark's idle-connection history (bench/scale_history.py) on a short span: a real
ConnectionWorkflow left without mail outgrows one history and continues as new, each closed run stays
near Temporal's suggested size, and the connection is still active at the end. No timing is asserted."""

from __future__ import annotations

from bench.mail.stack import running_stack
from bench.scale_history import idle_days

# Continue-as-new is suggested at about 4,096 events; the workflow checks once per turn of its loop,
# so a closed run ends a few events past it, far below the hard limit of 51,200.
SUGGESTED = 4096
# One turn of the loop records at most a few dozen events (a catch-up, a refresh, a renewal).
TURN_MARGIN = 200


async def test_an_idle_connection_continues_as_new_and_each_run_stays_bounded() -> None:
    async with running_stack(naive=False) as stack:
        figures = await idle_days(stack, days=6)
    assert figures["status_at_end"] == "active"
    assert figures["continued_as_new"] >= 1
    assert all(SUGGESTED <= n <= SUGGESTED + TURN_MARGIN for n in figures["closed_run_events"])
    # An idle day is made of the connection's own timers and activities, none of them a message.
    assert set(figures["activities_per_day"]) <= {
        "refresh_tokens",
        "catch_up_messages",
        "redo_candidates",
        "describe_tokens",
        "validate_mailbox",
        "create_subscription",
        "renew_subscription",
        "record_connection_status",
    }
