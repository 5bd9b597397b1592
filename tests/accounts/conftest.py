from __future__ import annotations

import pytest

from db.engine import session_factory
from tests.support.appdb import make_settings, migrated_engine


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings):
    engine = migrated_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with session_factory(engine)() as session:
        yield session
