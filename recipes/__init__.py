"""Recipes: "when an email like this arrives, do that on a board". The model, the email facts they see,
matching, rendering and loop checks are pure functions (no I/O, deterministic); store.py and
service.py are the only modules that touch the database."""
