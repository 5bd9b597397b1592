"""Health of the worker's own dependencies, as an activity: does the AppRole login to Vault work?

Also used by the API's /readyz, so both ask Vault the same question the same way.
"""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions
import requests
from pydantic import BaseModel
from temporalio import activity

from config.settings import Settings
from vault import VaultClient


class VaultLoginCheck(BaseModel):
    """What the AppRole token is allowed (policy names, not secrets) and how long it would have lived."""

    policies: list[str]
    ttl_seconds: int


async def check_approle_login(settings: Settings, *, http_timeout: float = 10.0) -> VaultLoginCheck:
    """Logs in with the configured AppRole, reads the token's own metadata, then revokes the token.

    Raises vault.VaultLoginFailed / VaultUnavailable / VaultStoreError (messages without secrets).
    """
    client = VaultClient(
        settings.vault_addr,
        settings.vault_role_id,
        settings.vault_secret_id,
        kv_mount=settings.vault_kv_mount,
        transit_mount=settings.vault_transit_mount,
        ca_bundle=settings.vault_ca_bundle,
        timeout=http_timeout,
    )
    try:
        await client.login()
        looked_up = await client.call(lambda c: c.auth.token.lookup_self(), what="token lookup")
        data: dict[str, Any] = looked_up["data"]
        # A check must not leave a live token behind for every probe; failing to revoke only wastes a lease.
        await client.call(_revoke_self_quietly, what="token revoke")
        policies = sorted(data.get("policies") or [])
        return VaultLoginCheck(policies=policies, ttl_seconds=int(data.get("ttl") or 0))
    finally:
        client.close()


def _revoke_self_quietly(hvac_client: hvac.Client) -> None:
    try:
        hvac_client.auth.token.revoke_self()
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
        pass


class HealthActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name="check_vault_login")
    async def check_vault_login(self) -> VaultLoginCheck:
        """Proves this worker can reach Vault and log in with its AppRole (the precondition of token work)."""
        return await check_approle_login(self._settings)
