"""Accounts service on a real migrated SQLite file: tokens hashed, roles, account scoping."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from accounts import service
from accounts.errors import ConflictError, NotFoundError
from db.accounts import Account, ApiToken, User


def _account_with_admin(session: Session, name: str = "acme") -> tuple[Account, User]:
    account = service.create_account(session, name)
    admin = service.create_user(
        session, account, email=f"boss@{name}.example", display_name="Boss", role="admin"
    )
    return account, admin


def test_issued_token_is_stored_only_as_its_sha256(session, engine):
    _, admin = _account_with_admin(session)
    issued = service.issue_api_token(session, admin, "cli")
    session.commit()
    assert issued.plain.startswith("oit_") and len(issued.plain) > 40
    assert issued.record.token_hash == hashlib.sha256(issued.plain.encode()).hexdigest()
    # Nothing anywhere in the database file holds the plain token.
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_tokens")).all()
    assert rows and all(issued.plain not in str(row) for row in rows)
    # ... nor any byte of the database files (the WAL included).
    db_path = Path(engine.url.database)
    for path in db_path.parent.glob(db_path.name + "*"):
        assert issued.plain.encode() not in path.read_bytes()


def test_tokens_are_random(session):
    _, admin = _account_with_admin(session)
    plains = {service.issue_api_token(session, admin, f"t{i}").plain for i in range(20)}
    assert len(plains) == 20


def test_authenticate_token(session):
    _, admin = _account_with_admin(session)
    issued = service.issue_api_token(session, admin, "cli")
    found = service.authenticate_token(session, issued.plain)
    assert found is not None and found.id == admin.id
    assert session.get(ApiToken, issued.record.id).last_used_at is not None
    assert service.authenticate_token(session, issued.plain + "x") is None
    assert service.authenticate_token(session, "") is None
    # The hash itself is not a token.
    assert service.authenticate_token(session, issued.record.token_hash) is None


def test_revoked_token_no_longer_authenticates(session):
    _, admin = _account_with_admin(session)
    issued = service.issue_api_token(session, admin, "cli")
    service.revoke_api_token(session, admin, issued.record.id)
    assert service.authenticate_token(session, issued.plain) is None
    with pytest.raises(NotFoundError):
        service.revoke_api_token(session, admin, issued.record.id)


def test_revoking_needs_the_owner(session):
    account, admin = _account_with_admin(session)
    member = service.create_user(session, account, email="m@acme.example", display_name="M", role="member")
    issued = service.issue_api_token(session, admin, "cli")
    with pytest.raises(NotFoundError):
        service.revoke_api_token(session, member, issued.record.id)
    assert service.authenticate_token(session, issued.plain) is not None


def test_duplicate_email_in_an_account_conflicts(session):
    account, _ = _account_with_admin(session)
    service.create_user(session, account, email="Same@Acme.example", display_name="A", role="member")
    with pytest.raises(ConflictError):
        service.create_user(session, account, email="same@acme.example ", display_name="B", role="member")
    other, _ = _account_with_admin(session, "other")
    # Another account may have the same address.
    service.create_user(session, other, email="same@acme.example", display_name="C", role="member")


def test_unknown_role_is_refused(session):
    account, _ = _account_with_admin(session)
    with pytest.raises(ValueError):
        service.create_user(session, account, email="x@acme.example", display_name="X", role="owner")  # type: ignore[arg-type]


def test_users_are_scoped_to_their_account(session):
    acme, acme_admin = _account_with_admin(session, "acme")
    other, other_admin = _account_with_admin(session, "other")
    assert service.get_user(session, acme.id, acme_admin.id).id == acme_admin.id
    with pytest.raises(NotFoundError):
        service.get_user(session, acme.id, other_admin.id)
    with pytest.raises(NotFoundError):
        service.get_user(session, acme.id, uuid.uuid4())
    assert [u.id for u in service.list_users(session, other.id)] == [other_admin.id]


def test_admin_exists(session):
    assert not service.admin_exists(session)
    account = service.create_account(session, "acme")
    service.create_user(session, account, email="m@acme.example", display_name="M", role="member")
    assert not service.admin_exists(session)
    service.create_user(session, account, email="a@acme.example", display_name="A", role="admin")
    assert service.admin_exists(session)


def test_token_list_has_no_hashes(session):
    _, admin = _account_with_admin(session)
    service.issue_api_token(session, admin, "cli")
    tokens = service.list_api_tokens(session, admin)
    assert [t.name for t in tokens] == ["cli"]
    assert session.scalar(select(ApiToken.token_hash)) is not None
