"""The signed-in user."""

from __future__ import annotations

from fastapi import APIRouter

from accounts.schemas import UserPublic
from api.deps import CurrentUser

router = APIRouter(prefix="/api", tags=["me"])


@router.get("/me")
def read_me(user: CurrentUser) -> UserPublic:
    """The caller's own user."""
    return UserPublic.model_validate(user)
