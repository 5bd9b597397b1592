"""Dependencies for connecting mailboxes: the MSAL wrapper and the Vault token store (built once per
process by the lifespan, kept on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import app_state
from graph.identity import Identity
from vault.token_store import TokenStore

IdentityDep = Annotated[Identity, Depends(app_state("identity", Identity))]
TokenStoreDep = Annotated[TokenStore, Depends(app_state("token_store", TokenStore))]
