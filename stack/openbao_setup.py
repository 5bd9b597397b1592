"""Initialises, unseals and configures an OpenBao server for local use (idempotent on every start).

The unseal key and root token stay in <dir>/init.json and the AppRole credentials in <dir>/approle.json,
both mode 0600. The root token is used only here, to configure; the service logs in with AppRole and
gets the narrow `outlook-integration` policy and nothing else (not even `default`).

Every start rewrites the policy, the role and the KV settings, so an install made by an earlier version
is brought up to date: older secret versions are destroyed once, and tokens issued under the old role
(which carried `default`) are revoked once.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import hvac
from hvac.exceptions import InvalidPath, InvalidRequest, VaultError
from pydantic import BaseModel

from boards.monday.token_store import MONDAY_SECRET_PATH
from codec.admin import ensure_keyring
from codec.vault_keys import keyring_data_path
from vault.token_store import CONNECTION_SECRETS

KV_MOUNT = "outlook-kv"
TRANSIT_MOUNT = "outlook-transit"
TRANSIT_KEY = "connection-tokens"
APPROLE_MOUNT = "approle"
ROLE_NAME = "outlook-integration"
POLICY_NAME = "outlook-integration"

# Only the newest version of a secret stays: a refresh token that was replaced is destroyed by KV itself
# on the write that replaces it, so no older (rotated) refresh token stays readable.
KV_MAX_VERSIONS = 1


def service_policy() -> str:
    """Exactly the operations vault/ performs, on exactly its paths and its one Transit key.

    - data/connections/<id>/<secret>: read, and check-and-set writes (create: first write; update: later).
    - metadata/connections/<id>/<secret>: delete, i.e. destroy every version and the metadata (disconnect).
    - data/monday/<account id>/token and its metadata: the same, for an account's monday.com token.
    - Transit encrypt/decrypt with the one derived key.
    - data/temporal-codec/keys: read only (the payload codec's keyring; operators rotate it).
    - Its own token: renew (vault/client.py), look up and revoke (the readiness check).
    No list, no metadata read/write, no soft delete/undelete/destroy, no key management, nothing under sys/.
    """
    # `+` matches exactly one path segment: one connection id, never a deeper or shallower path.
    blocks: list[tuple[str, list[str]]] = []
    for name in CONNECTION_SECRETS:
        blocks.append((f"{KV_MOUNT}/data/connections/+/{name}", ["create", "read", "update"]))
    for name in CONNECTION_SECRETS:
        blocks.append((f"{KV_MOUNT}/metadata/connections/+/{name}", ["delete"]))
    # An account's monday.com API token (boards/monday/token_store.py): the same operations.
    blocks.append((f"{KV_MOUNT}/data/{MONDAY_SECRET_PATH}", ["create", "read", "update"]))
    blocks.append((f"{KV_MOUNT}/metadata/{MONDAY_SECRET_PATH}", ["delete"]))
    blocks += [
        (keyring_data_path(KV_MOUNT), ["read"]),
        (f"{TRANSIT_MOUNT}/encrypt/{TRANSIT_KEY}", ["update"]),
        (f"{TRANSIT_MOUNT}/decrypt/{TRANSIT_KEY}", ["update"]),
        # The role sets token_no_default_policy, so these come from here rather than from `default`.
        ("auth/token/lookup-self", ["read"]),
        ("auth/token/renew-self", ["update"]),
        ("auth/token/revoke-self", ["update"]),
    ]
    return "".join(f'path "{path}" {{\n  capabilities = {json.dumps(caps)}\n}}\n' for path, caps in blocks)


POLICY = service_policy()

# Service tokens are short-lived; the service logs in again with role_id/secret_id when one expires.
TOKEN_TTL = "1h"
TOKEN_MAX_TTL = "4h"


class InitKeys(BaseModel):
    unseal_key: str
    root_token: str


class AppRoleCredentials(BaseModel):
    role_id: str
    secret_id: str


class OpenBaoSetupError(RuntimeError):
    pass


def write_private_json(path: Path, model: BaseModel) -> None:
    """Writes through a 0600 file created before any secret touches it, then renames into place."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(model.model_dump_json(indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, object] | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise OpenBaoSetupError(f"{path} is not a JSON object")
    return data


def wait_for_listener(addr: str, timeout: float) -> None:
    """Waits until the server answers at all (sealed or not)."""
    client = hvac.Client(url=addr, timeout=2)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.sys.read_seal_status()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise OpenBaoSetupError(f"OpenBao at {addr} did not answer within {timeout:.0f} s") from exc
            time.sleep(0.1)


def init_and_unseal(addr: str, state_dir: Path, timeout: float = 60.0) -> InitKeys:
    """First start: initialise with one key share. Every start: unseal with the stored key."""
    init_path = state_dir / "init.json"
    client = hvac.Client(url=addr, timeout=30)
    if not client.sys.is_initialized():
        if init_path.exists():
            raise OpenBaoSetupError(
                f"{init_path} exists but the OpenBao storage is not initialised; "
                "the storage was removed: delete init.json and approle.json to start afresh"
            )
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        keys = InitKeys(unseal_key=result["keys_base64"][0], root_token=result["root_token"])
        write_private_json(init_path, keys)
    else:
        stored = read_json(init_path)
        if stored is None:
            raise OpenBaoSetupError(f"OpenBao is initialised but {init_path} is missing: cannot unseal")
        keys = InitKeys.model_validate(stored)
    if client.sys.is_sealed():
        client.sys.submit_unseal_key(key=keys.unseal_key)
    _wait_active(client, timeout)
    return keys


def _wait_active(client: hvac.Client, timeout: float) -> None:
    # After unsealing, raft elects itself leader before requests are served (health 429 -> 200).
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = client.sys.read_health_status(method="GET")
            status = getattr(response, "status_code", 200)
            if status == 200:
                return
        except VaultError:
            pass
        if time.monotonic() > deadline:
            raise OpenBaoSetupError(f"OpenBao did not become active within {timeout:.0f} s")
        time.sleep(0.1)


def configure(addr: str, root_token: str, state_dir: Path) -> AppRoleCredentials:
    """Mounts, keys, policy and AppRole role; idempotent. Returns (and stores) the service's credentials."""
    client = hvac.Client(url=addr, token=root_token, timeout=30)
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    if f"{KV_MOUNT}/" not in mounts:
        client.sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
    if f"{TRANSIT_MOUNT}/" not in mounts:
        client.sys.enable_secrets_engine("transit", path=TRANSIT_MOUNT)
    try:
        client.secrets.transit.read_key(TRANSIT_KEY, mount_point=TRANSIT_MOUNT)
    except InvalidPath:
        client.secrets.transit.create_key(TRANSIT_KEY, derived=True, mount_point=TRANSIT_MOUNT)

    wait_for_kv(client)
    limit_kv_versions(client)
    # The payload codec's keys: random on a new install, kept (never replaced) on every later start.
    ensure_keyring(client, KV_MOUNT)

    if f"{APPROLE_MOUNT}/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle", path=APPROLE_MOUNT)
    client.sys.create_or_update_policy(POLICY_NAME, POLICY)
    legacy_role = _role_grants_default_policy(client)
    client.auth.approle.create_or_update_approle(
        ROLE_NAME,
        token_policies=[POLICY_NAME],
        token_no_default_policy=True,
        token_ttl=TOKEN_TTL,
        token_max_ttl=TOKEN_MAX_TTL,
        secret_id_ttl="0",
        secret_id_num_uses=0,
        mount_point=APPROLE_MOUNT,
    )
    if legacy_role:
        # A token keeps the policies it was issued with, so tokens issued under the old role still carry
        # `default`: revoke every token of this AppRole mount (it serves only this service, which logs in
        # again with the same secret_id). Only on this one upgrade, never on later starts.
        client.sys.revoke_prefix(f"auth/{APPROLE_MOUNT}/")
    role_id = client.auth.approle.read_role_id(ROLE_NAME, mount_point=APPROLE_MOUNT)["data"]["role_id"]

    approle_path = state_dir / "approle.json"
    stored = read_json(approle_path)
    if stored is not None:
        creds = AppRoleCredentials.model_validate(stored)
        if creds.role_id == role_id and _secret_id_valid(client, creds.secret_id):
            os.chmod(approle_path, 0o600)
            return creds
    generated = client.auth.approle.generate_secret_id(ROLE_NAME, mount_point=APPROLE_MOUNT)
    creds = AppRoleCredentials(role_id=role_id, secret_id=generated["data"]["secret_id"])
    write_private_json(approle_path, creds)
    return creds


def _secret_id_valid(client: hvac.Client, secret_id: str) -> bool:
    try:
        response = client.auth.approle.read_secret_id(ROLE_NAME, secret_id, mount_point=APPROLE_MOUNT)
    except (InvalidPath, VaultError):
        return False
    # An unknown secret_id answers 204 without a body.
    return isinstance(response, dict) and bool(response.get("data"))


def _role_grants_default_policy(client: hvac.Client) -> bool:
    """True for a role made by an earlier version of this setup (its tokens also carry `default`)."""
    try:
        role = client.auth.approle.read_role(ROLE_NAME, mount_point=APPROLE_MOUNT)
    except InvalidPath:
        return False  # first start: no role, no tokens
    return not role["data"].get("token_no_default_policy", False)


def wait_for_kv(client: hvac.Client, timeout: float = 60.0) -> None:
    """Waits until a newly mounted KV v2 engine answers: for a moment after the mount it refuses every
    call with "Upgrading from non-versioned to versioned data" (400), more often on a busy machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.secrets.kv.v2.read_configuration(mount_point=KV_MOUNT)
            return
        except InvalidRequest as err:
            if "upgrading" not in str(err).lower() or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def limit_kv_versions(client: hvac.Client) -> None:
    """Keeps only the newest version of every secret in the service's KV mount; idempotent.

    Setting the mount's max_versions prunes a secret on its next write only, so older versions written
    before (an install from an earlier version) are destroyed here first, once: the setting is written
    last, and a start that finds it in place has nothing left to prune.
    """
    kv = client.secrets.kv.v2
    if kv.read_configuration(mount_point=KV_MOUNT)["data"].get("max_versions") == KV_MAX_VERSIONS:
        return
    for path in _kv_secret_paths(client, ""):
        _destroy_older_versions(client, path)
    kv.configure(max_versions=KV_MAX_VERSIONS, mount_point=KV_MOUNT)


def _kv_secret_paths(client: hvac.Client, folder: str) -> list[str]:
    try:
        keys = client.secrets.kv.v2.list_secrets(path=folder, mount_point=KV_MOUNT)["data"]["keys"]
    except InvalidPath:
        return []  # empty mount or folder
    paths: list[str] = []
    for key in keys:
        path = f"{folder}{key}"
        paths += _kv_secret_paths(client, path) if key.endswith("/") else [path]
    return paths


def _destroy_older_versions(client: hvac.Client, path: str) -> None:
    kv = client.secrets.kv.v2
    metadata = kv.read_secret_metadata(path=path, mount_point=KV_MOUNT)["data"]
    current = int(metadata["current_version"])
    older = [
        int(number)
        for number, version in (metadata.get("versions") or {}).items()
        if int(number) != current and not version.get("destroyed")
    ]
    if older:
        kv.destroy_secret_versions(path=path, versions=sorted(older), mount_point=KV_MOUNT)
    if int(metadata.get("max_versions") or 0) > KV_MAX_VERSIONS:
        # A per-secret setting would override the mount's: let the mount's apply.
        kv.update_metadata(path=path, max_versions=0, mount_point=KV_MOUNT)
