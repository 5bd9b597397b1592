"""The counters the activities and the Graph client move (telemetry/metrics.py), on the real emulator,
OpenBao and database: Graph responses by status, an item's delivery-to-item latency (once: a retry that
finds the item made adds nothing), a message's outcome by reason kind, a token refresh, and a revocation
counted when it is new, not when the same status is recorded again."""

from __future__ import annotations

from prometheus_client import REGISTRY
from temporalio.testing import ActivityEnvironment

from payloads.connection import ConnectionRef, ConnectionStatus, StatusRecord
from payloads.messages import MessageResult, Outcome, OutcomeRecord
from tests.activities.support import World
from tests.activities.test_message_writes import write


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_activities_count_what_they_did(world: World) -> None:
    mailbox = await world.connect()
    board_id = world.add_board(mailbox)
    recipe_id = world.add_recipe(mailbox, board_id)
    message_id = await world.deliver(mailbox)
    graph_ok = sample("outlook_graph_requests_total", status="200")
    e2e_items = sample("outlook_message_end_to_end_seconds_count", kind="item")

    made = await write(world, mailbox, recipe_id, message_id)  # fetches (Graph), then writes the item
    again = await write(world, mailbox, recipe_id, message_id)
    assert made.created and not again.created
    assert sample("outlook_message_end_to_end_seconds_count", kind="item") - e2e_items == 1
    assert sample("outlook_graph_requests_total", status="200") - graph_ok >= 2

    no_match = sample("outlook_messages_total", outcome="skipped", reason_kind="no_match")
    skipped = OutcomeRecord(
        connection_id=mailbox.connection_id,
        message_id=message_id,
        result=MessageResult(outcome=Outcome.SKIPPED, reason="no recipe matched ('Support mail': from)"),
    )
    await ActivityEnvironment().run(world.steps.record_outcome, skipped)
    assert sample("outlook_messages_total", outcome="skipped", reason_kind="no_match") - no_match == 1

    refreshes = sample("outlook_token_refreshes_total", result="ok")
    await ActivityEnvironment().run(
        world.connection.refresh_tokens, ConnectionRef(connection_id=mailbox.connection_id)
    )
    assert sample("outlook_token_refreshes_total", result="ok") - refreshes == 1

    revocations = sample("outlook_grant_revocations_total")
    revoked = StatusRecord(
        connection_id=mailbox.connection_id, status=ConnectionStatus.REVOKED, status_reason="consent_revoked"
    )
    for _ in range(2):  # an activity's retry records the same status again
        await ActivityEnvironment().run(world.connection.record_connection_status, revoked)
    assert sample("outlook_grant_revocations_total") - revocations == 1
