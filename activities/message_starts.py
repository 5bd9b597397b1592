"""Starts the message workflows for a batch of notified messages, on behalf of the connection workflow.

Why an activity and not child workflows: a child costs its parent three history events and a workflow
task when it is initiated, started and completed; under a burst the connection workflow (one per
mailbox) became the bottleneck. Started from here, each message workflow is an independent execution
(the connection workflow records one local-activity marker per batch), found in the Temporal UI by its
id `message/<connection id>/<message id>` or the ConnectionId search attribute. The id and the
REJECT_DUPLICATE policy give the same once-only guarantee as before; a retried batch starts nothing twice.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from payloads.messages import MessageInput, MessageStarts, MessageStartsResult
from workflows import search_attributes as sa
from workflows.message import MessageWorkflow, message_workflow_id

# Starts in flight per batch: enough to hide the round trips, few enough not to swamp the server.
CONCURRENT_STARTS = 32


@activity.defn(name="start_message_workflows")
async def start_message_workflows(request: MessageStarts) -> MessageStartsResult:
    client = activity.client()
    queue = activity.info().task_queue
    attributes = TypedSearchAttributes([SearchAttributePair(sa.CONNECTION_ID, request.connection_id)])
    gate = asyncio.Semaphore(CONCURRENT_STARTS)

    async def start(message_id: str) -> bool:
        async with gate:
            try:
                await client.start_workflow(
                    MessageWorkflow.run,
                    MessageInput(connection_id=request.connection_id, message_id=message_id),
                    id=message_workflow_id(request.connection_id, message_id),
                    task_queue=queue,
                    # A message already handled (within the namespace's retention) is never run again.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=attributes,
                    # This worker takes the first task straight from the start's answer (no matching
                    # round trip) when it has a free slot; otherwise the task is queued as usual.
                    request_eager_start=True,
                )
            except WorkflowAlreadyStartedError:
                return False
            return True

    started = await asyncio.gather(*(start(m) for m in dict.fromkeys(request.message_ids)))
    new = sum(started)
    return MessageStartsResult(started=new, duplicates=len(started) - new)
