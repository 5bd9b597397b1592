"""A local stand-in for monday.com's GraphQL API (`python -m monday_fake --port N`).

It answers the documents boards/monday/queries.py sends, in the shapes of monday.com's published schema
(boards/monday/schema.graphql: every incoming document is parsed and validated against it, and executed
by graphql-core over that schema), keeps boards, groups, columns, items and updates in memory, checks a
bearer token, and can be told to fail the way monday.com fails. Control API under /_fake
(monday_fake/control.py).
"""
