"""Token store on Vault/OpenBao (hvac behind asyncio.to_thread): AppRole login, KV v2, Transit."""

from vault.client import VaultClient
from vault.errors import (
    ClientStateNotFound,
    ConcurrentUpdate,
    DecryptionFailed,
    InvalidConnectionId,
    TokenNotFound,
    VaultLoginFailed,
    VaultPermissionDenied,
    VaultStoreError,
    VaultUnavailable,
)
from vault.models import StoredTokens
from vault.token_store import TokenStore

__all__ = [
    "ClientStateNotFound",
    "ConcurrentUpdate",
    "DecryptionFailed",
    "InvalidConnectionId",
    "StoredTokens",
    "TokenNotFound",
    "TokenStore",
    "VaultClient",
    "VaultLoginFailed",
    "VaultPermissionDenied",
    "VaultStoreError",
    "VaultUnavailable",
]
