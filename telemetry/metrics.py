"""The service's own Prometheus metrics, counted where each event happens (the API, activities, the Graph
client), never in workflow code: a workflow replays, and a count there would repeat. The Temporal SDK's
runtime metrics cover the workflows themselves (telemetry/worker_server.py).

Labels are low-cardinality by construction: fixed words chosen here, HTTP status codes, outcome names.
Never a connection id, a mailbox, a message id, a recipe name or any text taken from an email or a
reason string; `reason_kind` maps the activity log's reasons to a fixed set.

With PROMETHEUS_MULTIPROC_DIR set before this module is imported (`make run` sets it for the API's
uvicorn processes), prometheus-client writes every process's values to files there, and /metrics sums
them (telemetry/exposition.py); without it, each process counts in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

# The webhook must answer within 3 s (graph-facts.md): buckets around that.
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
# From the email's arrival in the mailbox to its item: seconds normally, hours when Graph was down.
_E2E_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)

NOTIFICATIONS_RECEIVED = Counter(
    "outlook_webhook_notifications_received",
    "Notifications in the bodies Graph posted to the webhooks (before any check)",
    ["endpoint"],
)
NOTIFICATIONS_REFUSED = Counter(
    "outlook_webhook_notifications_refused",
    "Notifications dropped as not ours or forged: unknown subscription, another tenant, wrong clientState",
    ["reason"],
)
NOTIFICATIONS_ACKNOWLEDGED = Counter(
    "outlook_webhook_notifications_acknowledged",
    "Notifications that passed the checks and were stored in the outbox before the 202",
    ["endpoint"],
)
WEBHOOK_ACK_SECONDS = Histogram(
    "outlook_webhook_ack_seconds",
    "Time the webhook took to answer Graph, by endpoint and HTTP status",
    ["endpoint", "status"],
    buckets=_ACK_BUCKETS,
)
OUTBOX_ROWS = Counter(
    "outlook_outbox_rows",
    "Outbox rows settled by the forwarders: forwarded to a workflow, dropped (connection ended), kept "
    "for a retry",
    ["result"],
)
MESSAGES = Counter(
    "outlook_messages",
    "Messages whose outcome was recorded, by outcome and kind of reason",
    ["outcome", "reason_kind"],
)
END_TO_END_SECONDS = Histogram(
    "outlook_message_end_to_end_seconds",
    "From the email's arrival in the mailbox (receivedDateTime) to its item or update on the board",
    ["kind"],
    buckets=_E2E_BUCKETS,
)
GRAPH_REQUESTS = Counter(
    "outlook_graph_requests",
    "Responses from Microsoft Graph by HTTP status (429: throttled); status 'error' for no response",
    ["status"],
)
TOKEN_REFRESHES = Counter(
    "outlook_token_refreshes",
    "Access token refreshes with the refresh token, by result",
    ["result"],
)
REVOCATIONS = Counter(
    "outlook_grant_revocations",
    "Connections recorded as revoked (the user or an admin withdrew the grant, or it expired)",
)
SUBSCRIPTION_RENEWALS = Counter(
    "outlook_subscription_renewals",
    "Graph subscription renewals, by result",
    ["result"],
)
EMAILS_SENT = Counter(
    "outlook_emails_sent",
    "Outgoing emails by what the send step found: sent, already sent (a retry), unknown, refused",
    ["result"],
)

# Prefixes of the activity log's reasons (workflows/message.py, activities/message_steps.py), each
# mapped to a fixed word; anything else is "other", so no free text ever becomes a label value.
_REASON_KINDS: tuple[tuple[str, str], ...] = (
    ("folder", "folder"),
    ("message no longer exists", "message_gone"),
    ("no recipe for this connection", "no_recipe"),
    ("no recipe matched", "no_match"),
    ("sent by this service", "own_mail"),
    ("automatic reply", "automatic_reply"),
    ("grant revoked", "grant_revoked"),
)


def reason_kind(outcome: str, reason: str) -> str:
    if outcome == "processed":
        return "matched"
    text = reason.strip().lower()
    for prefix, kind in _REASON_KINDS:
        if text.startswith(prefix):
            return kind
    if outcome == "failed" and ("recipe" in text or "board" in text):
        return "recipe_broken"
    if outcome == "failed" and ("graph" in text or "throttl" in text or "unavailable" in text):
        return "graph_unavailable"
    return "other"


def observe_end_to_end(received_at: datetime | None, kind: str) -> None:
    """Delivery to item, for an item or update made now (not one an earlier attempt made)."""
    if received_at is None:
        return
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    elapsed = (datetime.now(UTC) - received_at).total_seconds()
    END_TO_END_SECONDS.labels(kind=kind if kind in ("item", "update") else "other").observe(max(elapsed, 0.0))
