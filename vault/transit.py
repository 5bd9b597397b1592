"""Transit encryption bound to one connection: the derived key's context is the connection id.

With `derived=True` Vault derives a distinct key per context, so a ciphertext copied from one connection's
secret into another's cannot be decrypted there. Each batch is one round trip to Vault.
"""

from __future__ import annotations

import base64
from typing import Any

import hvac
import hvac.exceptions

from vault.client import VaultClient
from vault.errors import DecryptionFailed, VaultStoreError

KEY_NAME = "connection-tokens"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


async def encrypt_many(vault: VaultClient, connection_id: str, plaintexts: list[str]) -> list[str]:
    context = _b64(connection_id)
    batch = [{"plaintext": _b64(p), "context": context} for p in plaintexts]

    def run(client: hvac.Client) -> Any:
        return client.secrets.transit.encrypt_data(
            name=KEY_NAME, batch_input=batch, mount_point=vault.transit_mount
        )

    response = await vault.call(run, what=f"encrypt for connection {connection_id}")
    results: list[dict[str, Any]] = response["data"]["batch_results"]
    if len(results) != len(plaintexts) or any("error" in r and r["error"] for r in results):
        raise VaultStoreError(f"encrypt for connection {connection_id}: refused by Vault")
    return [str(r["ciphertext"]) for r in results]


async def decrypt_many(vault: VaultClient, connection_id: str, ciphertexts: list[str]) -> list[str]:
    context = _b64(connection_id)
    batch = [{"ciphertext": c, "context": context} for c in ciphertexts]

    def run(client: hvac.Client) -> Any:
        try:
            return client.secrets.transit.decrypt_data(
                name=KEY_NAME, batch_input=batch, mount_point=vault.transit_mount
            )
        except hvac.exceptions.InvalidRequest:
            # Vault answers 400 when the ciphertext was made under another context or was altered.
            raise DecryptionFailed(
                f"decrypt for connection {connection_id}: ciphertext not valid here"
            ) from None

    response = await vault.call(run, what=f"decrypt for connection {connection_id}")
    results: list[dict[str, Any]] = response["data"]["batch_results"]
    if len(results) != len(ciphertexts) or any(r.get("error") for r in results):
        raise DecryptionFailed(f"decrypt for connection {connection_id}: ciphertext not valid here")
    try:
        return [base64.b64decode(r["plaintext"]).decode("utf-8") for r in results]
    except (KeyError, ValueError):
        raise DecryptionFailed(f"decrypt for connection {connection_id}: malformed plaintext") from None
