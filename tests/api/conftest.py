from __future__ import annotations

import httpx
import pytest

from api.main import create_app
from tests.support.appdb import add_user, make_settings, migrated_engine


@pytest.fixture(autouse=True)
def _event_loop_never_blocked(no_loop_stalls: None) -> None:
    """Every test here fails if one callback held the event loop for 100 ms (tests/support/loop_stalls.py)."""


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings):
    engine = migrated_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def app(settings, engine):
    # ASGITransport does not run the lifespan: hand over what it would have built.
    app = create_app(settings)
    app.state.engine = engine
    return app


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
def admin(engine):
    """(user id, plain token) of an admin of account "acme"."""
    return add_user(engine, account_name="acme", role="admin")


@pytest.fixture
def member(engine, admin):
    """(user id, plain token) of a member of the same account as `admin`."""
    from accounts import service
    from db.accounts import User
    from db.engine import session_scope

    with session_scope(engine) as session:
        account = session.get_one(User, admin[0]).account
        user = service.create_user(
            session, account, email="member@acme.example", display_name="M", role="member"
        )
        return user.id, service.issue_api_token(session, user, "test").plain


@pytest.fixture
def stranger(engine):
    """(user id, plain token) of an admin of another account."""
    return add_user(engine, account_name="other", role="admin")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
