"""Accounts, users and API tokens. Lookups that start from a caller are scoped to the caller's account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.credentials import hash_api_token, new_api_token
from accounts.errors import ConflictError, NotFoundError
from accounts.schemas import RoleName
from db.accounts import Account, ApiToken, Role, User

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    plain: str


def create_account(session: Session, name: str) -> Account:
    account = Account(name=name)
    session.add(account)
    session.flush()
    return account


def create_user(session: Session, account: Account, *, email: str, display_name: str, role: RoleName) -> User:
    email = email.strip().lower()
    taken = session.scalar(select(User.id).where(User.account_id == account.id, User.email == email))
    if taken is not None:
        raise ConflictError(f"a user with email {email} already exists")
    user = User(account_id=account.id, email=email, display_name=display_name, role=Role(role).value)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same email
        raise ConflictError(f"a user with email {email} already exists") from exc
    return user


def list_users(session: Session, account_id: uuid.UUID) -> list[User]:
    return list(session.scalars(select(User).where(User.account_id == account_id).order_by(User.created_at)))


def get_user(session: Session, account_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = session.scalar(select(User).where(User.id == user_id, User.account_id == account_id))
    if user is None:
        raise NotFoundError("user not found")
    return user


def admin_exists(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User).where(User.role == Role.admin.value)))


def issue_api_token(
    session: Session, user: User, name: str, expires_at: datetime | None = None
) -> IssuedToken:
    """Creates a token (valid until revoked, or until `expires_at`); the plain value is returned here
    once and never stored."""
    plain = new_api_token()
    record = ApiToken(user_id=user.id, name=name, token_hash=hash_api_token(plain), expires_at=expires_at)
    session.add(record)
    session.flush()
    return IssuedToken(record=record, plain=plain)


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at))
    )


def revoke_api_token(session: Session, user: User, token_id: uuid.UUID) -> None:
    record = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if record is None:
        raise NotFoundError("token not found")
    session.delete(record)
    session.flush()


def authenticate_token(session: Session, token: str) -> User | None:
    """The user a bearer token belongs to, or None. Looked up by hash, so timing reveals nothing useful."""
    if not token:
        return None
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
    if record is None:
        return None
    now = datetime.now(UTC)
    if record.expires_at is not None and record.expires_at <= now:
        return None
    # Minute precision is plenty, and it spares a database write on most requests.
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        record.last_used_at = now
    return session.get(User, record.user_id)
