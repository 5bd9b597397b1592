"""`python -m bench mail`: the incoming-mail pipeline measured end to end against the real service."""
