"""What the connection workflow, its activities and the API exchange about a connection.

Only ids, instants, statuses and human-readable reasons live here: these models are workflow inputs,
results, signals and query answers, so they are stored in Temporal's history. No token, client secret,
clientState or email content may ever be added to them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from payloads.redo import RedoEntry
from payloads.sends import BoardEventSignal


class ConnectionStatus(StrEnum):
    CONNECTING = "connecting"
    ACTIVE = "active"
    INVALID = "invalid"
    REVOKED = "revoked"
    DISCONNECTED = "disconnected"


class LifecycleEvent(StrEnum):
    REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
    SUBSCRIPTION_REMOVED = "subscriptionRemoved"
    MISSED = "missed"


class ConnectionRef(BaseModel):
    """Identifies a connection for an activity; the activity reads its secrets from Vault itself."""

    connection_id: str
    mailbox: str = ""


class ConnectionState(BaseModel):
    """Everything the workflow knows, carried whole across continue-as-new."""

    status: ConnectionStatus = ConnectionStatus.CONNECTING
    status_reason: str = ""
    validated: bool = False
    access_expires_at: datetime | None = None
    last_refresh_at: datetime | None = None
    next_refresh_at: datetime | None = None
    subscription_id: str | None = None
    subscription_expires_at: datetime | None = None
    next_renewal_at: datetime | None = None
    last_notification_at: datetime | None = None
    # Signals received but not yet acted on when the previous run continued as new.
    pending_lifecycle: list[LifecycleEvent] = Field(default_factory=list)
    reconnect_requested: bool = False
    disconnect_requested: bool = False
    # Message ids notified but whose MessageWorkflow is not started yet.
    pending_messages: list[str] = Field(default_factory=list)
    # The latest ids handed to a MessageWorkflow, so Graph's created+updated pairs and repeats are
    # dropped here instead of costing a child start each (the child's id would refuse them anyway).
    recent_messages: list[str] = Field(default_factory=list)
    # Message workflows this connection started, and notified ids dropped because one had already run.
    messages_started: int = 0
    duplicates_dropped: int = 0
    catch_up_requested: bool = False
    # Ids that did not fit under pending_bytes_max (only old-style `notified` signals can bring more
    # than fits): not lost, a catch-up finds every message that has no outcome yet.
    ids_overflowed: int = 0
    # The API said an incoming recipe changed (`recipes_changed` signal): the subscription's resource
    # is checked against the recipes' folders (activities/subscription_resource.py).
    recipes_changed: bool = False
    next_reconcile_at: datetime | None = None
    # Catch-up calls whose result this workflow has (see CatchUpRequest.call).
    catch_up_calls: int = 0
    # Board events signalled for this connection's outgoing recipes whose SendEmailWorkflow is not
    # started yet (bounded by payloads.sends.MAX_PENDING_SENDS); started ones, and ones dropped when full.
    pending_sends: list[BoardEventSignal] = Field(default_factory=list)
    sends_started: int = 0
    sends_dropped: int = 0
    # Messages asked to be redone (`redo_messages` update) whose new MessageWorkflow is not started yet;
    # they count against pending_bytes_max with pending_messages (workflows/connection_parts/redo.py).
    pending_redos: list[RedoEntry] = Field(default_factory=list)
    redos_started: int = 0
    # Set by a reconnect: the next catch-up also redoes the messages that failed for a dead grant.
    redo_dead_grants: bool = False
    # The catch_up_calls count at which redo candidates were last looked for (one look per catch-up).
    redo_checked_calls: int = 0


class ConnectionTiming(BaseModel):
    """When the workflow acts; defaults follow Microsoft's numbers in graph-facts.md."""

    # Refresh this long before the access token expires, plus up to refresh_jitter at random, so that
    # a thousand connections made in the same minute do not refresh in the same second.
    refresh_lead: timedelta = timedelta(minutes=10)
    refresh_jitter: timedelta = timedelta(minutes=5)
    # Refresh at least this often even when nothing else asks for it: refresh tokens die after 90 days
    # of inactivity, so an idle connection keeps its grant alive.
    keepalive_interval: timedelta = timedelta(days=7)
    # Outlook subscriptions live at most 10,080 minutes; ask for less and renew well ahead.
    subscription_lifetime: timedelta = timedelta(days=3)
    renewal_lead: timedelta = timedelta(hours=12)
    renewal_jitter: timedelta = timedelta(hours=1)
    # After a failure that is not a revocation (Graph or Vault down for longer than the retries),
    # try again this much later instead of giving up on the connection.
    retry_later: timedelta = timedelta(minutes=5)
    # A delta query over the inbox this often finds what notifications missed, with nobody acting.
    reconcile_interval: timedelta = timedelta(hours=1)
    # Children are started this many at a time (concurrently), and a run continues as new after
    # this many so its history and pending-children count stay small.
    child_batch: int = 100
    children_per_run: int = 400
    # Message workflows of a run running at once (runs with the in-flight patch): a backlog waits in
    # the state and the outbox rather than as thousands of running workflows whose tasks would queue
    # on the task queue ahead of the connection's own, a disconnect's among them.
    children_in_flight: int = 100
    recent_messages_kept: int = 2000
    # Bounds in bytes (ids as JSON, with a margin each), whatever arrives: the ids waiting for a start
    # and the window of recently started ones are both carried over continue-as-new. Together with the
    # rest of the state they stay under 512 KiB, the SDK's warning size for a payload, a quarter of
    # Temporal's 2 MB limit. With ~150-character Graph ids that is ~1,600 waiting and ~800 remembered
    # ids; the rest waits outside the history (workflows/connection_parts/messages.py).
    pending_bytes_max: int = 256_000
    recent_bytes_max: int = 128_000


class ConnectionInput(BaseModel):
    connection_id: str
    owner_id: str
    mailbox: str
    incoming: bool = True
    timing: ConnectionTiming = Field(default_factory=ConnectionTiming)
    state: ConnectionState = Field(default_factory=ConnectionState)


class ConnectionView(BaseModel):
    """The answer to the workflow's status query."""

    connection_id: str
    mailbox: str
    status: ConnectionStatus
    status_reason: str
    access_expires_at: datetime | None
    subscription_id: str | None
    subscription_expires_at: datetime | None
    last_notification_at: datetime | None


class RefreshResult(BaseModel):
    access_expires_at: datetime


class ValidationResult(BaseModel):
    ok: bool
    reason: str = ""


class SubscriptionRequest(BaseModel):
    connection_id: str
    mailbox: str = ""
    lifetime: timedelta = timedelta(days=3)
    # The subscription this one replaces, so the activity can remove the mapping of the old one.
    replaces_subscription_id: str | None = None


class SubscriptionRef(BaseModel):
    connection_id: str
    subscription_id: str
    mailbox: str = ""
    lifetime: timedelta = timedelta(days=3)


class SubscriptionInfo(BaseModel):
    subscription_id: str
    expires_at: datetime


class StatusRecord(BaseModel):
    """The status as the API shows it; written to the application database by an activity."""

    connection_id: str
    status: ConnectionStatus
    status_reason: str = ""
    subscription_expires_at: datetime | None = None
    last_notification_at: datetime | None = None


# The ApplicationError types activities raise and the workflow branches on.
GRANT_REVOKED = "GrantRevoked"
SUBSCRIPTION_GONE = "SubscriptionGone"
MAILBOX_INVALID = "MailboxInvalid"
