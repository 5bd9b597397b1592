"""The command line for users and operators: `outlook-integration` (installed by `make bootstrap` as
.venv/bin/outlook-integration), or `python -m cli`. It talks to the service's REST API only
(never to its database), so it works against any deployment the caller can reach with an API token."""
