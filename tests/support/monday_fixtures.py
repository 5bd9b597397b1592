"""Fixtures for monday.com as a destination: the fake (one per session), a linked account, MondayBoards.

- `monday_fake`: the running fake (tests/support/monday_fake_server.py); accepts MONDAY_TOKEN.
- `monday_tokens`: MondayTokenStore on the tests' OpenBao, logged in with the service's AppRole.
- `monday_engine`: a migrated app database (SQLite file in tmp_path).
- `monday_account`: an admin whose account is linked to the fake (row + token in Vault): MondayAccountRef.
- `monday_boards`: MondayBoards over all of the above, with its own httpx client.
- `monday_board`: a fresh board on the fake (groups New, Done; columns Email, Status, Notes, Received,
  Message key), as the fake's control API shows it.
- `monday_recipe(board, **action)`: a create_item recipe of monday_account's user for that board.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from boards.monday.destination import MondayBoards
from boards.monday.token_store import MondayTokenStore
from db.accounts import User
from db.engine import session_scope
from db.monday_accounts import MondayAccount
from recipes.model import Recipe
from tests.support.appdb import add_user, make_settings, migrated_engine
from tests.support.monday_fake_server import RunningMondayFake, start_monday_fake
from vault.client import VaultClient

MONDAY_TOKEN = "fake-monday-token-0123456789abcdef"


@dataclass(frozen=True)
class MondayAccountRef:
    user_id: uuid.UUID
    account_id: uuid.UUID
    api_token: str  # the user's API token of this service (not monday.com's)


@pytest.fixture(scope="session")
def monday_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMondayFake]:
    fake = start_monday_fake(tmp_path_factory.mktemp("monday-fake"), tokens=[MONDAY_TOKEN])
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def monday_tokens(openbao: Any) -> AsyncIterator[MondayTokenStore]:
    vault = VaultClient(openbao.addr, openbao.role_id, SecretStr(openbao.secret_id))
    yield MondayTokenStore(vault)
    vault.close()


@pytest.fixture
def monday_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
async def monday_account(
    monday_engine: Engine, monday_tokens: MondayTokenStore, monday_fake: RunningMondayFake
) -> MondayAccountRef:
    user_id, api_token = add_user(monday_engine, account_name=f"acme-{uuid.uuid4().hex[:6]}")
    with session_scope(monday_engine) as session:
        account_id = session.get_one(User, user_id).account_id
        session.add(MondayAccount(account_id=account_id, api_url=monday_fake.api_url))
    await monday_tokens.save(str(account_id), SecretStr(MONDAY_TOKEN))
    return MondayAccountRef(user_id=user_id, account_id=account_id, api_token=api_token)


@pytest.fixture
async def monday_boards(
    monday_engine: Engine, monday_tokens: MondayTokenStore, monday_account: MondayAccountRef
) -> AsyncIterator[MondayBoards]:
    async with httpx.AsyncClient() as http:
        yield MondayBoards(monday_engine, monday_tokens, http)


@pytest.fixture
def monday_board(monday_fake: RunningMondayFake) -> dict[str, Any]:
    return monday_fake.add_board(
        "Billing",
        ["New", "Done"],
        [
            {"title": "Email", "type": "email"},
            {"title": "Status", "type": "status", "labels": ["Working on it", "Done"]},
            {"title": "Notes", "type": "long_text"},
            {"title": "Received", "type": "date"},
            {"title": "Message key", "type": "text"},
        ],
    )


@pytest.fixture
def monday_recipe(monday_account: MondayAccountRef) -> Callable[..., Recipe]:
    def make(board: dict[str, Any], **action: Any) -> Recipe:
        spec = {
            "type": "create_item",
            "destination": "monday",
            "board_id": board["id"],
            "group": "New",
            "columns": {"Email": "{from.address}"},
            **action,
        }
        return Recipe.model_validate(
            {
                "id": str(uuid.uuid4()),
                "connection_id": "conn-1",
                "owner_id": str(monday_account.user_id),
                "name": "Billing mail",
                "trigger": {"type": "email_received"},
                "action": spec,
            }
        )

    return make
