"""Shared by the control API modules: the loopback-only guard, the router factory, mailbox lookup."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, HTTPException, Request

from emulator.context import ctx_of
from emulator.models import User
from emulator.store import NotFound


async def loopback_only(request: Request) -> None:  # async: no threadpool hop per request
    host = request.client.host if request.client else ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise HTTPException(403, "The control API answers loopback clients only.")


def control_router() -> APIRouter:
    return APIRouter(prefix="/_emulator", dependencies=[Depends(loopback_only)])


def mailbox(request: Request, email: str) -> User:
    try:
        return ctx_of(request).store.require_user(email)
    except NotFound:
        raise HTTPException(404, f"No mailbox {email}.") from None
