"""Browser sessions: a random id in an HttpOnly cookie, stored only as an HMAC keyed with SESSION_SECRET."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.credentials import hash_session_id, new_session_id
from config.settings import Settings
from db.accounts import BrowserSession, User

SESSION_COOKIE = "oi_session"


@dataclass(frozen=True)
class CookieParams:
    key: str
    max_age: int
    httponly: bool
    samesite: str
    secure: bool
    path: str = "/"


def cookie_params(settings: Settings) -> CookieParams:
    return CookieParams(
        key=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        samesite="lax",
        # Outside development always (a deployment is https; browsers accept Secure on loopback http).
        secure=settings.public_base_url.scheme == "https" or not settings.is_development,
    )


def _key(settings: Settings) -> str:
    return settings.session_secret.get_secret_value()


def create_session(session: Session, settings: Settings, user: User) -> str:
    """Stores a new browser session for user and returns the cookie value (only the caller ever sees it)."""
    session_id = new_session_id()
    now = datetime.now(UTC)
    session.add(
        BrowserSession(
            user_id=user.id,
            session_hash=hash_session_id(session_id, _key(settings)),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age_seconds),
        )
    )
    # Expired sessions of this user are no use to anyone: drop them while we are here.
    session.execute(
        delete(BrowserSession).where(BrowserSession.user_id == user.id, BrowserSession.expires_at < now)
    )
    session.flush()
    return session_id


def resolve_session(session: Session, settings: Settings, session_id: str) -> User | None:
    if not session_id:
        return None
    session_hash = hash_session_id(session_id, _key(settings))
    record = session.scalar(select(BrowserSession).where(BrowserSession.session_hash == session_hash))
    if record is None:
        return None
    if record.expires_at <= datetime.now(UTC):
        return None
    return session.get(User, record.user_id)


def revoke_session(session: Session, settings: Settings, session_id: str) -> None:
    if not session_id:
        return
    session_hash = hash_session_id(session_id, _key(settings))
    session.execute(delete(BrowserSession).where(BrowserSession.session_hash == session_hash))
    session.flush()
