"""Typed errors of the token store. Messages name the connection and the operation, never a secret.

hvac's own exceptions carry Vault's response text and URL; we never pass them on as our message, and we
raise ours `from None` so a logged traceback cannot drag a response body along either.
"""

from __future__ import annotations


class VaultStoreError(Exception):
    """Base of every error the vault package raises."""


class VaultUnavailable(VaultStoreError):
    """Vault cannot be reached, is sealed, or answered with a server error. Retrying later may help."""


class VaultPermissionDenied(VaultStoreError):
    """The AppRole token is not allowed to do this, even after a fresh login."""


class VaultLoginFailed(VaultStoreError):
    """AppRole login was refused (wrong or expired role_id/secret_id)."""


class TokenNotFound(VaultStoreError):
    """Nothing is stored for this connection (never connected, or destroyed)."""


class ClientStateNotFound(VaultStoreError):
    """No subscription clientState is stored for this connection."""


class DecryptionFailed(VaultStoreError):
    """Transit refused to decrypt: the ciphertext belongs to another connection or was tampered with."""


class ConcurrentUpdate(VaultStoreError):
    """Check-and-set kept failing because other writers kept updating the same secret."""


class InvalidConnectionId(VaultStoreError, ValueError):
    """A connection id that is not a safe single path segment."""
