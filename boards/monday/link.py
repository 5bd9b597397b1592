"""An account's monday.com link as the API manages it: verify a token, store it, show it, remove it.

The token goes to Vault (boards/monday/token_store.py) and only the API URL to the database
(monday_accounts). The token is verified with a `me { id }` query before anything is stored.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine

from boards.monday.api import MondayApi
from boards.monday.client import MondayClient
from boards.monday.token_store import MondayTokenStore
from db.engine import session_factory
from db.monday_accounts import MondayAccount


class MondayLinkPublic(BaseModel):
    connected: bool
    api_url: str | None = None


async def verify_token(http: httpx.AsyncClient, api_url: str, token: SecretStr) -> str:
    """The token's user id; raises boards.monday.errors types (MondayTokenRefused when refused)."""
    return await MondayApi(MondayClient(http, api_url, token)).me()


async def link(
    engine: Engine, tokens: MondayTokenStore, account_id: uuid.UUID, api_url: str, token: SecretStr
) -> None:
    # Vault first: a row without a token would say "connected" while nothing could be sent.
    await tokens.save(str(account_id), token)
    await asyncio.to_thread(_upsert, engine, account_id, api_url)


async def unlink(engine: Engine, tokens: MondayTokenStore, account_id: uuid.UUID) -> None:
    # The row first: once it is gone nothing uses the link, even if destroying the token must be retried.
    await asyncio.to_thread(_delete, engine, account_id)
    await tokens.destroy(str(account_id))


def status(engine: Engine, account_id: uuid.UUID) -> MondayLinkPublic:
    with session_factory(engine)() as session:
        row = session.get(MondayAccount, account_id)
        return MondayLinkPublic(connected=row is not None, api_url=row.api_url if row else None)


def _upsert(engine: Engine, account_id: uuid.UUID, api_url: str) -> None:
    with session_factory(engine)() as session:
        row = session.get(MondayAccount, account_id)
        if row is None:
            session.add(MondayAccount(account_id=account_id, api_url=api_url))
        else:
            row.api_url = api_url
        session.commit()


def _delete(engine: Engine, account_id: uuid.UUID) -> None:
    with session_factory(engine)() as session:
        row = session.get(MondayAccount, account_id)
        if row is not None:
            session.delete(row)
            session.commit()
