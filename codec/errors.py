"""Errors of the codec. Messages name key ids (which are not secret), never key material or payloads."""

from __future__ import annotations


class CodecError(Exception):
    """Base of every error the codec package raises."""


class InvalidKeyring(CodecError, ValueError):
    """A keyring that cannot be used: no keys, a current id without a key, a key not 32 bytes..."""


class KeyringNotFound(CodecError):
    """Vault holds no keyring at the expected path (the setup has not created it)."""


class UnknownKeyId(CodecError):
    """A payload was encrypted under a key id this keyring does not have (even after a reload)."""

    def __init__(self, key_id: str, message: str) -> None:
        super().__init__(message)
        self.key_id = key_id


class PayloadDecryptionFailed(CodecError):
    """An encrypted payload failed authentication: altered, truncated, or not made with this key."""
