"""The webhook's per-process helpers: the notification verifier (clientState cache), the subscription
directory (subscription -> connection cache), the outbox and its forwarder."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.webhook_forwarder import WebhookForwarder
from webhooks.directory import SubscriptionDirectory
from webhooks.outbox import Outbox
from webhooks.verify import Verifier


async def get_verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.webhook_verifier
    return verifier


VerifierDep = Annotated[Verifier, Depends(get_verifier)]


async def get_directory(request: Request) -> SubscriptionDirectory:
    directory: SubscriptionDirectory = request.app.state.subscription_directory
    return directory


DirectoryDep = Annotated[SubscriptionDirectory, Depends(get_directory)]


async def get_outbox(request: Request) -> Outbox:
    outbox: Outbox = request.app.state.webhook_outbox
    return outbox


OutboxDep = Annotated[Outbox, Depends(get_outbox)]


async def get_forwarder(request: Request) -> WebhookForwarder:
    forwarder: WebhookForwarder = request.app.state.webhook_forwarder
    return forwarder


ForwarderDep = Annotated[WebhookForwarder, Depends(get_forwarder)]
