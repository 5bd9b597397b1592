"""Errors the accounts service raises; the API maps them to 404/409."""

from __future__ import annotations


class AccountsError(Exception):
    pass


class NotFoundError(AccountsError):
    pass


class ConflictError(AccountsError):
    pass
