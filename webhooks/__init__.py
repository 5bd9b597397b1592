"""Microsoft Graph change and lifecycle notifications: parsing, authenticity checks, and the outbox that
keeps what the webhook accepted until it is signalled to the workflows (no I/O of its own beyond the
stores it is given), used by the API's webhook routes and its outbox forwarder."""
