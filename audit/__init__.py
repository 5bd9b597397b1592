"""The audit log: who read a connection's tokens or changed what, and when (db/audit.py). Never a secret,
never email content: entries hold kinds, ids and fixed phrases chosen by the code."""
