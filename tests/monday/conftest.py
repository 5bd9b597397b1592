# The monday.com fixtures live in tests/support so other folders (e2e) can register them too.
from tests.support.monday_fixtures import (  # noqa: F401
    monday_account,
    monday_board,
    monday_boards,
    monday_engine,
    monday_fake,
    monday_recipe,
    monday_tokens,
)
