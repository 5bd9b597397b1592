"""The one rule for expired access tokens: on 401, refresh once and retry once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import SecretStr

from graph.errors import Unauthorized

T = TypeVar("T")


async def with_token_refresh(
    call: Callable[[SecretStr], Awaitable[T]],
    get_token: Callable[[], Awaitable[SecretStr]],
    refresh: Callable[[], Awaitable[SecretStr]],
) -> T:
    """Runs `call(token)`; if Graph answers 401, gets a new token from `refresh()` and runs it again.

    A second 401 propagates: a token fresh from the identity platform that Graph still refuses means
    something other than expiry, and refreshing again would only loop.
    """
    token = await get_token()
    try:
        return await call(token)
    except Unauthorized:
        pass
    return await call(await refresh())
