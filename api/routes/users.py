"""Users of the caller's account and their API tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Response, status

from accounts import service
from accounts.errors import ConflictError, NotFoundError
from accounts.schemas import (
    TokenCreate,
    TokenIssued,
    TokenPublic,
    TokensPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
)
from api.deps import CurrentAdmin, CurrentUser, SessionDep
from db.accounts import Role, User

router = APIRouter(prefix="/api/users", tags=["users"])


def _user_in_account(session: SessionDep, caller: User, user_id: uuid.UUID) -> User:
    try:
        return service.get_user(session, caller.account_id, user_id)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="user not found") from None


def _self_or_admin(session: SessionDep, caller: User, user_id: uuid.UUID) -> User:
    """The target user if the caller may manage them: admins their whole account, members themselves."""
    target = _user_in_account(session, caller, user_id)
    if caller.role != Role.admin.value and target.id != caller.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only admins manage other users' tokens")
    return target


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: SessionDep, admin: CurrentAdmin) -> UserPublic:
    """Adds a user to the admin's account."""
    try:
        user = service.create_user(
            session, admin.account, email=body.email, display_name=body.display_name, role=body.role
        )
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    session.commit()
    return UserPublic.model_validate(user)


@router.get("")
def list_users(session: SessionDep, admin: CurrentAdmin) -> UsersPublic:
    """All users of the admin's account."""
    users = [UserPublic.model_validate(u) for u in service.list_users(session, admin.account_id)]
    return UsersPublic(data=users, count=len(users))


@router.get("/{user_id}")
def read_user(user_id: uuid.UUID, session: SessionDep, caller: CurrentUser) -> UserPublic:
    """One user: admins see their account's users, members themselves."""
    return UserPublic.model_validate(_self_or_admin(session, caller, user_id))


@router.post("/{user_id}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    user_id: uuid.UUID, body: TokenCreate, session: SessionDep, caller: CurrentUser
) -> TokenIssued:
    """Issues an API token. This response is the only time the token is shown."""
    target = _self_or_admin(session, caller, user_id)
    issued = service.issue_api_token(session, target, body.name, body.expires_at)
    session.commit()
    return TokenIssued(
        id=issued.record.id,
        name=issued.record.name,
        token=issued.plain,
        created_at=issued.record.created_at,
        expires_at=issued.record.expires_at,
    )


@router.get("/{user_id}/tokens")
def list_tokens(user_id: uuid.UUID, session: SessionDep, caller: CurrentUser) -> TokensPublic:
    """A user's tokens: names and dates only."""
    target = _self_or_admin(session, caller, user_id)
    tokens = [TokenPublic.model_validate(t) for t in service.list_api_tokens(session, target)]
    return TokensPublic(data=tokens, count=len(tokens))


@router.delete("/{user_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(
    user_id: uuid.UUID, token_id: uuid.UUID, session: SessionDep, caller: CurrentUser
) -> Response:
    """Revokes a token at once."""
    target = _self_or_admin(session, caller, user_id)
    try:
        service.revoke_api_token(session, target, token_id)
    except NotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="token not found") from None
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
