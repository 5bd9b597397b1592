"""The webhook's per-process helpers: the notification verifier (clientState cache), the subscription
directory (subscription -> connection cache), the outbox and its forwarder."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import app_state
from api.webhook_forwarder import WebhookForwarder
from webhooks.directory import SubscriptionDirectory
from webhooks.outbox import Outbox
from webhooks.verify import Verifier

VerifierDep = Annotated[Verifier, Depends(app_state("webhook_verifier", Verifier))]
DirectoryDep = Annotated[
    SubscriptionDirectory, Depends(app_state("subscription_directory", SubscriptionDirectory))
]
OutboxDep = Annotated[Outbox, Depends(app_state("webhook_outbox", Outbox))]
ForwarderDep = Annotated[WebhookForwarder, Depends(app_state("webhook_forwarder", WebhookForwarder))]
