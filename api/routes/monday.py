"""The account's monday.com link (admins): connect with an API token, show whether it is linked, remove it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from api.deps import CurrentAdmin, EngineDep, SettingsDep, app_state
from boards.monday import link as monday_link
from boards.monday.errors import MondayError, MondayTokenRefused
from boards.monday.token_store import MondayTokenStore
from vault.errors import VaultStoreError

router = APIRouter(prefix="/api/monday", tags=["monday"])

get_monday_tokens = app_state("monday_tokens", MondayTokenStore)
MondayTokensDep = Annotated[MondayTokenStore, Depends(get_monday_tokens)]


async def get_monday_http() -> AsyncIterator[httpx.AsyncClient]:
    # Linking is rare: a client per request keeps the route independent of the worker's pools.
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


MondayHttpDep = Annotated[httpx.AsyncClient, Depends(get_monday_http)]


class MondayLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A personal API token (monday.com: profile -> Developers -> API token).
    api_token: SecretStr = Field(min_length=1, max_length=4000)
    api_url: HttpUrl | None = None


@router.put("")
async def put_link(
    body: MondayLinkIn,
    admin: CurrentAdmin,
    engine: EngineDep,
    settings: SettingsDep,
    tokens: MondayTokensDep,
    http: MondayHttpDep,
) -> monday_link.MondayLinkPublic:
    """Links the account to monday.com: verifies the token with monday.com, then keeps it in Vault."""
    api_url = str(body.api_url) if body.api_url is not None else settings.monday_api_url
    if not settings.is_development and not api_url.startswith("https://"):
        # The token is sent there: never in clear text outside a developer's machine.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="api_url must be an https:// URL")
    token = SecretStr(body.api_token.get_secret_value().strip())
    try:
        await monday_link.verify_token(http, api_url, token)
    except MondayTokenRefused:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="monday.com refused this token"
        ) from None
    except MondayError as err:
        # The client's messages never hold the token.
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail=f"could not verify the token with monday.com: {err}"
        ) from None
    try:
        await monday_link.link(engine, tokens, admin.account_id, api_url, token)
    except VaultStoreError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the secret store is unavailable"
        ) from None
    return await asyncio.to_thread(monday_link.status, engine, admin.account_id)


@router.get("")
async def get_link(admin: CurrentAdmin, engine: EngineDep) -> monday_link.MondayLinkPublic:
    """Whether the account is linked to monday.com, and where its API is (never the token)."""
    return await asyncio.to_thread(monday_link.status, engine, admin.account_id)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def delete_link(admin: CurrentAdmin, engine: EngineDep, tokens: MondayTokensDep) -> None:
    """Removes the link: the row and every version of the token in Vault."""
    try:
        await monday_link.unlink(engine, tokens, admin.account_id)
    except VaultStoreError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the secret store is unavailable"
        ) from None
