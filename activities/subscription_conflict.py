"""What a 409 on creating the connection's subscription means, and what to do about it.

Graph keeps one subscription per app, mailbox, resource and changeType (graph-facts.md); the resource is
the inbox or the whole mailbox (activities/subscription_resource.py), and only a subscription to the same
one conflicts. A conflict is either stale - a create whose answer was lost and is now retried, a
subscription a failed delete left behind, a workflow restarted without its state - and is then deleted
so the create can be repeated; or it belongs to something that still needs it: another live connection
of this service for the same mailbox, or another installation of the same app registration (a different
notificationUrl).
Deleting those would silently break them, so this connection is refused instead, with a reason the
user can act on (a non-retryable MAILBOX_INVALID error: the workflow shows it as the status reason).
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import Engine, select
from temporalio.exceptions import ApplicationError

from activities.subscription_resource import INBOX_RESOURCE, same_resource
from db.connections import Connection
from db.engine import session_scope
from graph.wire import Subscription
from payloads.connection import MAILBOX_INVALID, ConnectionStatus

_LIVE = (ConnectionStatus.ACTIVE.value, ConnectionStatus.CONNECTING.value)

ANOTHER_INSTALLATION = (
    "another installation of this app already receives this mailbox's notifications, and Microsoft "
    "allows one per app and mailbox"
)
ANOTHER_CONNECTION = (
    "this mailbox is already connected by another connection, and Microsoft allows one subscription "
    "per app and mailbox: disconnect the other connection first"
)


def is_conflicting(subscription: Subscription, change_type: str, resource: str = INBOX_RESOURCE) -> bool:
    # Graph may echo the resource with other casing or quotes, or as users/{id}/...: compared normalized.
    change_types = {c.strip() for c in (subscription.change_type or "").split(",") if c.strip()}
    return same_resource(subscription.resource, resource) and change_types == {change_type}


async def stale_conflicts(
    subscriptions: list[Subscription],
    *,
    change_type: str,
    notification_url: str,
    connection_id: str,
    engine: Engine,
    resource: str = INBOX_RESOURCE,
) -> list[str]:
    """The ids of the conflicting subscriptions, all safe to delete; raises if one is still needed.
    Reads the database in a worker thread, off the event loop the worker's activities share."""
    return await asyncio.to_thread(
        _stale_conflicts, subscriptions, change_type, notification_url, connection_id, engine, resource
    )


def _stale_conflicts(
    subscriptions: list[Subscription],
    change_type: str,
    notification_url: str,
    connection_id: str,
    engine: Engine,
    resource: str,
) -> list[str]:
    clashing = [s for s in subscriptions if is_conflicting(s, change_type, resource)]
    for subscription in clashing:
        if subscription.notification_url != notification_url:
            raise ApplicationError(ANOTHER_INSTALLATION, type=MAILBOX_INVALID, non_retryable=True)
        if _held_by_another_live_connection(engine, connection_id, subscription.id):
            raise ApplicationError(ANOTHER_CONNECTION, type=MAILBOX_INVALID, non_retryable=True)
    return [s.id for s in clashing]


def _held_by_another_live_connection(engine: Engine, connection_id: str, subscription_id: str) -> bool:
    with session_scope(engine) as session:
        holder = session.scalars(
            select(Connection.id).where(
                Connection.subscription_id == subscription_id,
                Connection.id != uuid.UUID(connection_id),
                Connection.status.in_(_LIVE),
            )
        ).first()
    return holder is not None
