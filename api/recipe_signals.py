"""Telling a connection's workflow that its incoming recipes changed, so that its Graph subscription
follows their folders within seconds (the inbox, or the whole mailbox: activities/subscription_resource.py).

Best effort, after the change is committed and answered: a signal that fails (Temporal away, the
workflow ended) is only logged, because the next subscription renewal checks the same thing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from recipes.model import EmailReceivedTrigger, RecipeSpec
from workflows.connection import ConnectionWorkflow
from workflows.ids import connection_workflow_id

log = logging.getLogger("api.recipe_signals")
SIGNAL_TIMEOUT = timedelta(seconds=5)


def moves_subscription(*specs: RecipeSpec | None) -> bool:
    """Whether a change between these versions of a recipe can change the subscription's resource: only
    an incoming recipe watching another folder than the inbox can (before or after the change)."""
    return any(
        spec is not None
        and isinstance(spec.trigger, EmailReceivedTrigger)
        and spec.trigger.folder.lower() != "inbox"
        for spec in specs
    )


async def signal_recipes_changed(temporal: Client | None, connection_id: uuid.UUID) -> None:
    if temporal is None:  # an app without the workflow engine (tests of the API alone)
        return
    handle = temporal.get_workflow_handle(connection_workflow_id(connection_id))
    try:
        await handle.signal(ConnectionWorkflow.recipes_changed, rpc_timeout=SIGNAL_TIMEOUT)
    except (RPCError, TimeoutError) as err:
        log.info(
            "could not tell connection %s that its recipes changed (%s); its next renewal will",
            connection_id,
            type(err).__name__,
        )
