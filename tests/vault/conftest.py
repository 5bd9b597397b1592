from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import hvac
import pytest
from pydantic import SecretStr

from vault import TokenStore, VaultClient


@pytest.fixture
async def vault_client(openbao: Any) -> AsyncIterator[VaultClient]:
    client = VaultClient(openbao.addr, openbao.role_id, SecretStr(openbao.secret_id))
    yield client
    client.close()


@pytest.fixture
def token_store(vault_client: VaultClient) -> TokenStore:
    return TokenStore(vault_client)


@pytest.fixture
def root_hvac(openbao: Any) -> hvac.Client:
    """Root access, only to inspect or provoke what the service's AppRole cannot."""
    return hvac.Client(url=openbao.addr, token=openbao.root_token)
