"""The account's "who may create integrations" setting, enforced: connect, reconnect, saving a recipe."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from accounts import permissions
from db.accounts import User


def require_integration_creator(session: Session, user: User) -> None:
    """403 saying who may, unless `user` may create integrations. Blocking (one query)."""
    refused = permissions.refusal(session, user)
    if refused is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refused)


async def check_integration_creator(session: Session, user: User) -> None:
    """`require_integration_creator` for async routes: the query runs in a worker thread."""
    await asyncio.to_thread(require_integration_creator, session, user)
