"""Boards: the built-in board store (boards, groups, typed columns, items, updates) and the interface the
message workflow writes through (`BoardStore`, idempotent by recipe and message)."""
