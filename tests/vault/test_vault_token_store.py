"""The token store against a real OpenBao configured like production (AppRole, narrow policy)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import hvac
import hvac.exceptions
import pytest
from pydantic import SecretStr

from vault import (
    ClientStateNotFound,
    DecryptionFailed,
    InvalidConnectionId,
    StoredTokens,
    TokenNotFound,
    TokenStore,
    VaultClient,
)

KV = "outlook-kv"


def new_id() -> str:
    return uuid.uuid4().hex


def tokens(n: int = 0, obtained_at: datetime | None = None) -> StoredTokens:
    return StoredTokens(
        access_token=SecretStr(f"access-{n}-{uuid.uuid4().hex}"),
        refresh_token=SecretStr(f"refresh-{n}-{uuid.uuid4().hex}"),
        expires_at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n),
        display_name=f"Adele Vance {n}",
        mailbox="adele@contoso.example",
        scopes=["User.Read", "Mail.Read"],
        obtained_at=obtained_at or datetime.now(UTC),
    )


async def test_round_trip(token_store: TokenStore) -> None:
    cid = new_id()
    saved = tokens(1)
    assert await token_store.save(cid, saved) is True
    loaded = await token_store.load(cid)
    assert loaded.access_token.get_secret_value() == saved.access_token.get_secret_value()
    assert loaded.refresh_token.get_secret_value() == saved.refresh_token.get_secret_value()
    assert loaded == saved
    assert await token_store.exists(cid)


async def test_empty_display_name_round_trips(token_store: TokenStore) -> None:
    cid = new_id()
    saved = tokens(2).model_copy(update={"display_name": "", "scopes": []})
    await token_store.save(cid, saved)
    assert await token_store.load(cid) == saved


async def test_kv_holds_ciphertext_not_plaintext(token_store: TokenStore, root_hvac: hvac.Client) -> None:
    cid = new_id()
    saved = tokens(3)
    await token_store.save(cid, saved)
    raw = root_hvac.secrets.kv.v2.read_secret_version(
        path=f"connections/{cid}/tokens", mount_point=KV, raise_on_deleted_version=True
    )
    data = raw["data"]["data"]
    dumped = repr(data)
    for secret in (
        saved.access_token.get_secret_value(),
        saved.refresh_token.get_secret_value(),
        saved.display_name,
        saved.mailbox,
    ):
        assert secret not in dumped
    for field in ("access_token", "refresh_token", "expires_at", "display_name", "mailbox", "scopes"):
        assert str(data[field]).startswith("vault:v")


async def test_ciphertext_of_one_connection_is_useless_for_another(
    token_store: TokenStore, root_hvac: hvac.Client
) -> None:
    victim, attacker = new_id(), new_id()
    await token_store.save(victim, tokens(4))
    await token_store.save(attacker, tokens(5))
    # Copy the victim's encrypted record over the attacker's: decryption must refuse it.
    raw = root_hvac.secrets.kv.v2.read_secret_version(
        path=f"connections/{victim}/tokens", mount_point=KV, raise_on_deleted_version=True
    )
    root_hvac.secrets.kv.v2.create_or_update_secret(
        path=f"connections/{attacker}/tokens", secret=raw["data"]["data"], mount_point=KV
    )
    with pytest.raises(DecryptionFailed) as excinfo:
        await token_store.load(attacker)
    assert "access-4" not in str(excinfo.value)


async def test_missing_connection_raises_token_not_found(token_store: TokenStore) -> None:
    cid = new_id()
    with pytest.raises(TokenNotFound):
        await token_store.load(cid)
    assert not await token_store.exists(cid)
    with pytest.raises(ClientStateNotFound):
        await token_store.load_client_state(cid)


@pytest.mark.parametrize("bad", ["", "../other", "a/b", "x" * 129, "with space", "connections/../x"])
async def test_unsafe_connection_ids_are_refused(token_store: TokenStore, bad: str) -> None:
    with pytest.raises(InvalidConnectionId):
        await token_store.load(bad)
    with pytest.raises(InvalidConnectionId):
        await token_store.save(bad, tokens())


async def test_client_state_round_trip_encrypted(token_store: TokenStore, root_hvac: hvac.Client) -> None:
    cid = new_id()
    state = SecretStr(uuid.uuid4().hex + uuid.uuid4().hex)
    await token_store.save_client_state(cid, state)
    assert (await token_store.load_client_state(cid)).get_secret_value() == state.get_secret_value()
    raw = root_hvac.secrets.kv.v2.read_secret_version(
        path=f"connections/{cid}/subscription", mount_point=KV, raise_on_deleted_version=True
    )
    assert state.get_secret_value() not in repr(raw)


async def test_destroy_removes_every_version_and_metadata(
    token_store: TokenStore, root_hvac: hvac.Client
) -> None:
    cid = new_id()
    for n in range(3):
        await token_store.save(cid, tokens(n))
    await token_store.save_client_state(cid, SecretStr("state-" + uuid.uuid4().hex))
    assert assert_only_newest_version(root_hvac, f"connections/{cid}/tokens") == 3

    await token_store.destroy(cid)

    for name in ("tokens", "subscription"):
        with pytest.raises(hvac.exceptions.InvalidPath):
            root_hvac.secrets.kv.v2.read_secret_metadata(path=f"connections/{cid}/{name}", mount_point=KV)
        with pytest.raises(hvac.exceptions.InvalidPath):
            root_hvac.secrets.kv.v2.read_secret_version(
                path=f"connections/{cid}/{name}", version=1, mount_point=KV, raise_on_deleted_version=True
            )
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_hvac.secrets.kv.v2.list_secrets(path=f"connections/{cid}", mount_point=KV)
    assert not await token_store.exists(cid)
    await token_store.destroy(cid)  # idempotent


async def test_destroy_leaves_other_connections_alone(token_store: TokenStore) -> None:
    keep, gone = new_id(), new_id()
    kept = tokens(7)
    await token_store.save(keep, kept)
    await token_store.save(gone, tokens(8))
    await token_store.destroy(gone)
    assert await token_store.load(keep) == kept


async def test_newest_refresh_token_replaces_older(token_store: TokenStore) -> None:
    cid = new_id()
    now = datetime.now(UTC)
    old, new = tokens(1, now - timedelta(minutes=5)), tokens(2, now)
    assert await token_store.save(cid, old)
    assert await token_store.save(cid, new)
    assert (await token_store.load(cid)) == new
    # A slower refresh finishing later with an older token set must not win.
    assert await token_store.save(cid, old) is False
    assert (await token_store.load(cid)) == new


async def test_concurrent_saves_keep_the_newest(token_store: TokenStore, root_hvac: hvac.Client) -> None:
    cid = new_id()
    base = datetime.now(UTC)
    sets = [tokens(n, base + timedelta(seconds=n)) for n in range(8)]
    order = [3, 7, 0, 5, 1, 6, 2, 4]
    await asyncio.gather(*(token_store.save(cid, sets[i]) for i in order))
    assert (await token_store.load(cid)) == sets[7]
    # Check-and-set still decided every race with only one version kept.
    assert_only_newest_version(root_hvac, f"connections/{cid}/tokens")


def assert_only_newest_version(root: hvac.Client, path: str) -> int:
    """One version left that is neither destroyed nor deleted, and no older version readable."""
    metadata = root.secrets.kv.v2.read_secret_metadata(path=path, mount_point=KV)["data"]
    current = int(metadata["current_version"])
    live = {
        int(number)
        for number, version in metadata["versions"].items()
        if not version["destroyed"] and not version["deletion_time"]
    }
    assert live == {current}
    for version in range(1, current):
        with pytest.raises(hvac.exceptions.InvalidPath):
            root.secrets.kv.v2.read_secret_version(
                path=path, version=version, mount_point=KV, raise_on_deleted_version=True
            )
    return current


async def test_refreshes_leave_no_older_refresh_token_in_vault(
    token_store: TokenStore, root_hvac: hvac.Client
) -> None:
    cid = new_id()
    base = datetime.now(UTC)
    saved = [tokens(n, base + timedelta(seconds=n)) for n in range(6)]
    for token_set in saved:
        assert await token_store.save(cid, token_set) is True
    assert assert_only_newest_version(root_hvac, f"connections/{cid}/tokens") == len(saved)
    assert await token_store.load(cid) == saved[-1]
    # Nothing of the replaced sets is left anywhere in the secret, not even as ciphertext.
    for version in range(1, len(saved)):
        with pytest.raises(hvac.exceptions.InvalidPath):
            root_hvac.secrets.kv.v2.read_secret_version(
                path=f"connections/{cid}/tokens",
                version=version,
                mount_point=KV,
                raise_on_deleted_version=False,
            )
    # clientState, rewritten on each subscription re-creation, keeps one version too.
    for n in range(3):
        await token_store.save_client_state(cid, SecretStr(f"state-{n}-{uuid.uuid4().hex}"))
    assert assert_only_newest_version(root_hvac, f"connections/{cid}/subscription") == 3


class _InterleavingVault(VaultClient):
    """Lets another writer (root) update the secret between the store's read and its CAS write."""

    def __init__(self, *args: Any, intruder: Callable[[], Awaitable[None]] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intruder = intruder
        self.reads = 0

    async def call(self, fn, *, what):
        result = await super().call(fn, what=what)
        if what.startswith("read "):
            self.reads += 1
        if what.startswith("read ") and self.intruder is not None:
            intruder, self.intruder = self.intruder, None
            await intruder()
        return result


async def test_cas_conflict_rereads_and_keeps_newest(openbao, root_hvac: hvac.Client) -> None:
    cid = new_id()
    now = datetime.now(UTC)
    plain_store = TokenStore(VaultClient(openbao.addr, openbao.role_id, SecretStr(openbao.secret_id)))
    newer = tokens(9, now)

    async def concurrent_refresh() -> None:
        await plain_store.save(cid, newer)

    vault = _InterleavingVault(
        openbao.addr, openbao.role_id, SecretStr(openbao.secret_id), intruder=concurrent_refresh
    )
    store = TokenStore(vault)
    # Our set is older than the one the intruder writes after our first read: CAS fails, we re-read,
    # see the newer set, and give up without overwriting it.
    assert await store.save(cid, tokens(8, now - timedelta(seconds=1))) is False
    assert vault.reads == 2
    assert (await store.load(cid)) == newer
    meta = root_hvac.secrets.kv.v2.read_secret_metadata(path=f"connections/{cid}/tokens", mount_point=KV)
    assert meta["data"]["current_version"] == 1

    # And the other way round: the intruder's set is older, so ours is written on the second try.
    cid2 = new_id()
    older = tokens(10, now - timedelta(seconds=5))

    async def slow_old_refresh() -> None:
        await plain_store.save(cid2, older)

    vault2 = _InterleavingVault(
        openbao.addr, openbao.role_id, SecretStr(openbao.secret_id), intruder=slow_old_refresh
    )
    mine = tokens(11, now)
    assert await TokenStore(vault2).save(cid2, mine) is True
    assert (await plain_store.load(cid2)) == mine
    meta = root_hvac.secrets.kv.v2.read_secret_metadata(path=f"connections/{cid2}/tokens", mount_point=KV)
    assert meta["data"]["current_version"] == 2
