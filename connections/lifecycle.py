"""A connection's workflow from the API's side: started when a mailbox is connected, told when the user
consented again, and asked to disconnect (started again just to clean up if it has ended)."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from db.connections import Connection
from graph.scopes import reads_mail
from payloads.connection import ConnectionInput, ConnectionState, ConnectionStatus
from workflows import search_attributes as sa
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

log = logging.getLogger("connections.lifecycle")


async def request_disconnect(temporal: Client, task_queue: str, connection: Connection) -> None:
    """Signal-with-start: a running workflow gets the signal; one that has ended (terminated by an
    operator, failed) is started again to clean up - delete the subscription Graph may still hold,
    destroy the connection's Vault secrets, record `disconnected` - so nothing outlives a disconnect."""
    leftover = ConnectionState(subscription_id=connection.subscription_id, disconnect_requested=True)
    await start_workflow(temporal, task_queue, connection, state=leftover, start_signal="disconnect")


async def start_workflow(
    temporal: Client,
    task_queue: str,
    connection: Connection,
    *,
    state: ConnectionState | None = None,
    start_signal: str | None = None,
) -> None:
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.CONNECTION_ID, str(connection.id)),
            SearchAttributePair(sa.MAILBOX, connection.mailbox),
            SearchAttributePair(sa.CONNECTION_STATUS, ConnectionStatus.CONNECTING.value),
            SearchAttributePair(sa.OWNER_ID, str(connection.owner_id)),
        ]
    )
    await temporal.start_workflow(
        ConnectionWorkflow.run,
        ConnectionInput(
            connection_id=str(connection.id),
            owner_id=str(connection.owner_id),
            mailbox=connection.mailbox,
            incoming=reads_mail(connection.scope_list),
            state=state or ConnectionState(),
        ),
        start_signal=start_signal,
        id=connection_workflow_id(connection.id),
        task_queue=task_queue,
        search_attributes=attributes,
        static_summary=f"Outlook connection for {connection.mailbox}",
        static_details=(
            f"**Connection:** {connection.id}\n\n**Mailbox:** {connection.mailbox}\n\n"
            f"**Scopes:** {connection.scopes}"
        ),
    )


async def signal_reconnected(temporal: Client, task_queue: str, conn: Connection) -> None:
    try:
        await temporal.get_workflow_handle(connection_workflow_id(conn.id)).signal(
            ConnectionWorkflow.reconnected
        )
    except RPCError:
        # The workflow has ended (it should not have, short of an operator terminating it): start
        # a fresh one for the same connection so reconnect always brings it back.
        log.warning("connection %s had no running workflow; starting a new one", conn.id)
        await start_workflow(temporal, task_queue, conn)
