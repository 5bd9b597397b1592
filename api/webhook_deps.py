"""The webhook's per-process helpers: the notification verifier (clientState cache) and the
subscription directory (subscription -> connection cache)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from webhooks.directory import SubscriptionDirectory
from webhooks.verify import Verifier


def get_verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.webhook_verifier
    return verifier


VerifierDep = Annotated[Verifier, Depends(get_verifier)]


def get_directory(request: Request) -> SubscriptionDirectory:
    directory: SubscriptionDirectory = request.app.state.subscription_directory
    return directory


DirectoryDep = Annotated[SubscriptionDirectory, Depends(get_directory)]
