"""`python -m accounts.bootstrap` as the supervisor runs it: admin created once, token only in a 0600 file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from accounts import service
from db.engine import create_db_engine, session_scope
from db.migrate import REPO_ROOT


def _bootstrap(
    data_dir: Path, public_base_url: str = "http://127.0.0.1:8000"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "PUBLIC_BASE_URL": public_base_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "accounts.bootstrap"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_run_creates_admin_and_token_file_then_finds_it(tmp_path):
    first = _bootstrap(tmp_path, "http://localhost:8123")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "created"
    assert "http://localhost:8123/signin" in first.stdout

    token_file = tmp_path / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("oit_")
    assert token not in first.stdout and token not in first.stderr

    engine = create_db_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with session_scope(engine) as session:
            admin = service.authenticate_token(session, token)
            assert admin is not None and admin.role == "admin" and admin.display_name == "admin"
            assert admin.account.name == "default"
    finally:
        engine.dispose()

    second = _bootstrap(tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == "exists"
    assert "http://127.0.0.1:8000/signin" in second.stdout
    # The token is unchanged: a second run must not lock the admin out.
    assert token_file.read_text().strip() == token
