"""The local stack behind `make run`: `python -m stack` starts, health-checks and supervises

    OpenBao, Temporal dev server, emulator  ->  db.migrate, accounts.bootstrap  ->  API, worker

with everything under DATA_DIR (default .data/): logs/<part>.log, openbao/ (raft storage, init.json and
approle.json, mode 0600), temporal/temporal.db, emulator/ (ca.pem), app.db, admin-token.

Environment (also read from .env): DATA_DIR, API_PORT, and the supervisor's own STACK_* variables
(stack/config.py): STACK_TEMPORAL_PORT (7233), STACK_TEMPORAL_UI_PORT (8233),
STACK_TEMPORAL_UI_CODEC_ENDPOINT (unset), STACK_OPENBAO_PORT (8200), STACK_OPENBAO_CLUSTER_PORT (8201),
STACK_EMULATOR_PORT (9443), STACK_HEALTH_TIMEOUT (90 s), STACK_STOP_TIMEOUT (25 s),
STACK_RESTART_BACKOFF_INITIAL (0.5 s), STACK_RESTART_BACKOFF_MAX (30 s).
"""
