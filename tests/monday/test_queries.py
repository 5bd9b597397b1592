"""Every document the client sends is valid against monday.com's published schema."""

from __future__ import annotations

import pytest
from graphql import OperationDefinitionNode, parse

from boards.monday import queries
from boards.monday.schema import SCHEMA_PATH, validation_errors

DOCUMENTS = {
    name: value for name, value in vars(queries).items() if name.isupper() and isinstance(value, str)
}


def test_the_module_has_documents() -> None:
    # A rename that hides the documents from this test would otherwise pass silently.
    assert {"ME", "BOARD_SHAPE", "CREATE_ITEM", "CREATE_UPDATE", "CHANGE_COLUMN_VALUES"} <= set(DOCUMENTS)
    assert "ITEMS_BY_COLUMN_VALUES" in DOCUMENTS


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_valid_against_the_published_schema(name: str) -> None:
    errors = validation_errors(DOCUMENTS[name])
    assert not errors, f"{name}: {[e.message for e in errors]}"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_one_named_operation(name: str) -> None:
    # One named operation per document: the fake's request log and monday.com's logs name it.
    operations = [d for d in parse(DOCUMENTS[name]).definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1 and operations[0].name is not None


def test_a_wrong_document_is_caught() -> None:
    assert validation_errors("query { boards { no_such_field } }")
    assert validation_errors("mutation { create_item(item_name: 1) { id } }")
    assert validation_errors("query {")


def test_schema_copy_says_where_it_came_from() -> None:
    assert "monday-api-schema.graphql" in SCHEMA_PATH.read_text().splitlines()[1]
