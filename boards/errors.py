"""Errors of the board store. Messages name boards, groups and columns, never email content."""

from __future__ import annotations


class BoardStoreError(ValueError):
    """The board no longer fits what the recipe asks for; retrying will not help."""


class BoardNotFound(BoardStoreError):
    pass


class GroupNotFound(BoardStoreError):
    pass


class ColumnNotFound(BoardStoreError):
    pass


class ItemNotFound(BoardStoreError):
    pass


class InvalidValue(BoardStoreError):
    """A value does not fit its column's type. The message says what the type expects, never the value."""


class FilesTooLarge(BoardStoreError):
    """A file, or all the files of an item together, would exceed the store's size caps."""
