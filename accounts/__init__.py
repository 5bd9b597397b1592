"""Accounts, users (admin or member), API tokens and browser sessions."""
