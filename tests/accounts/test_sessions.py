"""Browser sessions: random ids, stored as an HMAC keyed with SESSION_SECRET, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import service
from accounts.credentials import hash_session_id
from accounts.sessions import cookie_params, create_session, resolve_session, revoke_session
from db.accounts import BrowserSession, User
from tests.support.appdb import make_settings


def _user(session: Session) -> User:
    account = service.create_account(session, "acme")
    return service.create_user(session, account, email="u@acme.example", display_name="U", role="member")


def test_session_resolves_to_its_user_and_is_stored_hashed(session, settings):
    user = _user(session)
    session_id = create_session(session, settings, user)
    resolved = resolve_session(session, settings, session_id)
    assert resolved is not None and resolved.id == user.id
    stored = session.scalar(select(BrowserSession))
    assert stored.session_hash == hash_session_id(session_id, settings.session_secret.get_secret_value())
    assert session_id not in stored.session_hash
    assert resolve_session(session, settings, "") is None
    assert resolve_session(session, settings, session_id + "x") is None


def test_another_secret_cannot_resolve_the_session(session, settings, tmp_path):
    user = _user(session)
    session_id = create_session(session, settings, user)
    rotated = make_settings(tmp_path, session_secret="another-secret-value-of-enough-length")
    assert resolve_session(session, rotated, session_id) is None


def test_expired_session_is_refused(session, settings):
    user = _user(session)
    session_id = create_session(session, settings, user)
    record = session.scalar(select(BrowserSession))
    record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert resolve_session(session, settings, session_id) is None


def test_revoked_session_is_refused(session, settings):
    user = _user(session)
    session_id = create_session(session, settings, user)
    revoke_session(session, settings, session_id)
    assert resolve_session(session, settings, session_id) is None


def test_cookie_is_httponly_lax_and_secure_only_on_https(tmp_path):
    plain = cookie_params(
        make_settings(tmp_path, public_base_url="http://127.0.0.1:8000", session_max_age_seconds=60)
    )
    assert (plain.httponly, plain.samesite, plain.secure, plain.max_age) == (True, "lax", False, 60)
    assert cookie_params(make_settings(tmp_path, public_base_url="https://mail.example.com")).secure
