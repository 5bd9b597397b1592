"""Connections, the domain beside accounts/ and boards/: consenting (connect and reconnect through Microsoft's
OAuth consent, tokens to Vault, the row) in consent.py, and the connection's workflow from the API's side
(start, reconnected, disconnect) in lifecycle.py. The HTTP routes in api/ are thin layers over these."""
