"""Microsoft Graph change and lifecycle notifications: parsing and authenticity checks (no I/O of its own
beyond the stores it is given), used by the API's webhook routes."""
