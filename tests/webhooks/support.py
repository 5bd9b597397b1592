"""The webhook endpoints on a real migrated SQLite database, without Vault or Temporal: the clientState
loader is a dictionary (the Vault token store's signature), the forwarder is built but not started (it
only counts wakes), so whatever a request left behind stays in the outbox for the test to read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from temporalio.client import Client

from api.main import create_app
from api.webhook_forwarder import WebhookForwarder
from config.settings import Settings
from db.connections import Connection
from db.engine import session_scope
from db.outbox import OutboxRow
from tests.recipes.support import add_connection
from tests.support.appdb import add_user
from vault.errors import ClientStateNotFound
from webhooks.directory import SubscriptionDirectory
from webhooks.outbox import Outbox
from webhooks.verify import ClientStateCache, Verifier


@dataclass
class Subscribed:
    """A connection of ours with its Graph subscription and genuine clientState."""

    connection_id: str
    subscription_id: str
    client_state: str


@dataclass
class ClientStates:
    """What Vault would hold: connection id -> clientState; every read counted."""

    values: dict[str, str] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    async def load(self, connection_id: str) -> SecretStr:
        self.reads.append(connection_id)
        if connection_id not in self.values:
            raise ClientStateNotFound(connection_id)
        return SecretStr(self.values[connection_id])


class CountingForwarder(WebhookForwarder):
    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox, cast(Client, None))
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


def subscribed(engine: Engine, states: ClientStates, mailbox: str = "me@acme.example") -> Subscribed:
    user_id, _token = add_user(engine, account_name=uuid.uuid4().hex[:8])
    connection_id = add_connection(engine, user_id, mailbox=mailbox)
    subscription_id = str(uuid.uuid4())
    with session_scope(engine) as session:
        session.get_one(Connection, uuid.UUID(connection_id)).subscription_id = subscription_id
    states.values[connection_id] = "genuine-" + uuid.uuid4().hex
    return Subscribed(connection_id, subscription_id, states.values[connection_id])


def webhook_app(settings: Settings, engine: Engine, states: ClientStates) -> FastAPI:
    """The real app with the webhook's helpers as the lifespan would build them (Vault aside)."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.webhook_verifier = Verifier(ClientStateCache(states.load))
    app.state.subscription_directory = SubscriptionDirectory(engine)
    app.state.webhook_outbox = Outbox(engine)
    app.state.webhook_forwarder = CountingForwarder(app.state.webhook_outbox)
    return app


def outbox_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def notification(
    sub: Subscribed, *, client_state: str | None = None, message_id: str = "AAMk1="
) -> dict[str, Any]:
    resource = f"Users/{uuid.uuid4()}/Messages/{message_id}"
    return {
        "subscriptionId": sub.subscription_id,
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00+00:00",
        "changeType": "created",
        "resource": resource,
        "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource, "id": message_id},
        "clientState": sub.client_state if client_state is None else client_state,
        "tenantId": str(uuid.uuid4()),
    }
