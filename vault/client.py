"""An async face on hvac (which is blocking): AppRole login, token renewal and re-login.

Every call runs in a worker thread through `asyncio.to_thread`. The AppRole token is renewed ahead of its
expiry while Vault still allows it, and replaced by a fresh login when it cannot be renewed, has expired,
or a call is answered 403 (an expired or revoked token looks exactly like a policy refusal; only a
second 403 right after a fresh login means the policy really forbids it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
from pydantic import SecretStr

from config.settings import Settings
from vault.errors import VaultLoginFailed, VaultPermissionDenied, VaultStoreError, VaultUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# hvac errors that mean "Vault is not serving right now", as opposed to "this request is wrong".
_UNAVAILABLE = (
    hvac.exceptions.VaultDown,
    hvac.exceptions.InternalServerError,
    hvac.exceptions.BadGateway,
    hvac.exceptions.RateLimitExceeded,
    hvac.exceptions.UnexpectedError,
    hvac.exceptions.VaultNotInitialized,
    requests.exceptions.RequestException,
)


class VaultClient:
    """One per process: holds the hvac client and the AppRole token's lifetime."""

    def __init__(
        self,
        addr: str,
        role_id: str,
        secret_id: SecretStr,
        *,
        kv_mount: str = "outlook-kv",
        transit_mount: str = "outlook-transit",
        ca_bundle: Path | None = None,
        approle_mount: str = "approle",
        timeout: float = 10.0,
    ) -> None:
        self.kv_mount = kv_mount
        self.transit_mount = transit_mount
        self._role_id = role_id
        self._secret_id = secret_id
        self._approle_mount = approle_mount
        # token="": hvac would otherwise pick up VAULT_TOKEN or ~/.vault-token (an operator's, maybe a
        # root token) until the first AppRole login; the service only ever uses its own login.
        self._hvac = hvac.Client(
            url=addr, token="", verify=str(ca_bundle) if ca_bundle else True, timeout=timeout
        )
        self._lock = threading.Lock()
        self._generation = 0  # bumped on each login so concurrent 403s cause one re-login, not many
        self._expires_at = 0.0  # monotonic seconds; 0 = not logged in
        self._ttl = 0.0
        self._renewable = False

    @classmethod
    def from_settings(cls, settings: Settings) -> VaultClient:
        return cls(
            settings.vault_addr,
            settings.vault_role_id,
            settings.vault_secret_id,
            kv_mount=settings.vault_kv_mount,
            transit_mount=settings.vault_transit_mount,
            ca_bundle=settings.vault_ca_bundle,
        )

    async def call(self, fn: Callable[[hvac.Client], T], *, what: str) -> T:
        """Runs `fn(hvac_client)` in a thread with a valid token. `what` names the operation in errors."""
        return await asyncio.to_thread(self._call_sync, fn, what)

    async def login(self) -> None:
        await asyncio.to_thread(self._login_sync, None)

    def close(self) -> None:
        self._hvac.adapter.close()

    # --- blocking internals (worker threads) ---

    def _call_sync(self, fn: Callable[[hvac.Client], T], what: str) -> T:
        try:
            generation = self._ensure_token()
            try:
                return fn(self._hvac)
            except hvac.exceptions.Forbidden:
                self._login_sync(generation)
            try:
                return fn(self._hvac)
            except hvac.exceptions.Forbidden:
                raise VaultPermissionDenied(f"{what}: permission denied by Vault policy") from None
        except _UNAVAILABLE as exc:
            raise VaultUnavailable(f"{what}: Vault unavailable ({type(exc).__name__})") from None
        except hvac.exceptions.VaultError as exc:
            # Its text is Vault's response and URL: keep only the kind.
            raise VaultStoreError(f"{what}: rejected by Vault ({type(exc).__name__})") from None

    def _ensure_token(self) -> int:
        with self._lock:
            generation = self._generation
            remaining = self._expires_at - time.monotonic()
            if self._expires_at and remaining > self._renew_margin():
                return generation
        if self._expires_at and remaining > 1.0 and self._renewable:
            if self._renew_sync(generation):
                return self._generation
        self._login_sync(generation)
        return self._generation

    def _renew_margin(self) -> float:
        # Renew once a third of the lifetime is left, but never closer than 5 s to expiry.
        return max(5.0, self._ttl / 3)

    def _renew_sync(self, seen_generation: int) -> bool:
        with self._lock:
            if self._generation != seen_generation:
                return True  # another thread already renewed or logged in
            try:
                auth = self._hvac.auth.token.renew_self()["auth"]
            except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
                return False
            lease = float(auth.get("lease_duration") or 0)
            if lease <= self._renew_margin():
                return False  # capped by the token's max TTL: a fresh login is needed soon anyway
            self._set_lease(lease, bool(auth.get("renewable")))
            return True

    def _login_sync(self, seen_generation: int | None) -> None:
        with self._lock:
            if seen_generation is not None and self._generation != seen_generation:
                return  # another thread logged in since this one saw the failure
            try:
                response = self._hvac.auth.approle.login(
                    role_id=self._role_id,
                    secret_id=self._secret_id.get_secret_value(),
                    mount_point=self._approle_mount,
                )
            except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
                self._expires_at = 0.0
                raise VaultLoginFailed("AppRole login refused") from None
            except _UNAVAILABLE as exc:
                raise VaultUnavailable(f"AppRole login: Vault unavailable ({type(exc).__name__})") from None
            auth: dict[str, Any] = response["auth"]
            self._set_lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))
            log.info("vault: logged in with AppRole (token ttl %ss)", int(self._ttl))

    def _set_lease(self, lease_seconds: float, renewable: bool) -> None:
        self._generation += 1
        self._ttl = lease_seconds
        self._renewable = renewable
        # lease 0 means a non-expiring token: never renew proactively.
        self._expires_at = time.monotonic() + (lease_seconds if lease_seconds > 0 else 10 * 365 * 86400.0)
