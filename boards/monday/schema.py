"""monday.com's published schema (schema.graphql beside this file), parsed once per process.

The fake (monday_fake/) validates every incoming document against it, and the tests validate every
document the client sends, so neither side can drift from the real API's shapes unnoticed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, validate

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")


@cache
def monday_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


def validation_errors(document: str) -> list[GraphQLError]:
    """What is wrong with a document against the schema: a syntax error or validation errors; [] if none."""
    try:
        ast = parse(document)
    except GraphQLError as err:
        return [err]
    return list(validate(monday_schema(), ast))
