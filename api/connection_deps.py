"""Dependencies for connecting mailboxes: the MSAL wrapper and the Vault token store (built once per
process by the lifespan, kept on app.state; tests override these getters)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from graph.identity import Identity
from vault.token_store import TokenStore


def get_identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def get_token_store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.token_store
    return store


IdentityDep = Annotated[Identity, Depends(get_identity)]
TokenStoreDep = Annotated[TokenStore, Depends(get_token_store)]
