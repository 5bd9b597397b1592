"""The notification verifier, one per process (its clientState cache is per process)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from webhooks.verify import Verifier


def get_verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.webhook_verifier
    return verifier


VerifierDep = Annotated[Verifier, Depends(get_verifier)]
