"""`python -m accounts.bootstrap`: make sure an admin exists.

On the first run it creates the account "default", the admin user "admin" and one API token, and writes
the token to <DATA_DIR>/admin-token (mode 0600). The token is never printed: it is read from the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from accounts import service
from config.settings import Settings, get_settings
from db.engine import engine_from_settings, session_scope
from db.migrate import upgrade_to_head

ADMIN_TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    token_path: Path
    signin_url: str


def write_secret_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with 0600 from the start (no window where it is world-readable); replaced if present.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content + "\n")
    os.chmod(path, 0o600)


def ensure_admin(engine: Engine, settings: Settings) -> BootstrapResult:
    token_path = settings.data_dir / ADMIN_TOKEN_FILE
    signin_url = f"{settings.public_base}/signin"
    with session_scope(engine) as session:
        if service.admin_exists(session):
            return BootstrapResult(created=False, token_path=token_path, signin_url=signin_url)
        account = service.create_account(session, "default")
        admin = service.create_user(
            session, account, email="admin@localhost.localdomain", display_name="admin", role="admin"
        )
        issued = service.issue_api_token(session, admin, "bootstrap")
        # Written before the commit: if writing fails, no admin exists whose token nobody has.
        write_secret_file(token_path, issued.plain)
    return BootstrapResult(created=True, token_path=token_path, signin_url=signin_url)


def main() -> None:
    settings = get_settings()
    engine = engine_from_settings(settings)
    try:
        # Idempotent, and it means bootstrap works on a fresh data dir without a separate step.
        upgrade_to_head(engine)
        result = ensure_admin(engine, settings)
    finally:
        engine.dispose()
    print("created" if result.created else "exists")
    print(f"admin token file: {result.token_path}")
    print(f"sign in: {result.signin_url}")


if __name__ == "__main__":
    main()
