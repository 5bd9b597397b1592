"""Today's design as a second baseline: the previous release itself, run from a git worktree of its commit
beside the current code, against the same Temporal dev server, OpenBao and emulator.

It gets its own task queue, its own app database (migrated by its own Alembic), its own API processes on
their own port (its own webhook: the emulator notifies the URL each subscription was created with), its
own worker, and its own app registration at the emulator (another client id; an installation of its
own). Its mailboxes are connected through its API, so both designs take the same path: emulator ->
webhook -> outbox -> forwarder -> connection workflow -> message workflows.

Workflow type names are the same in both releases (ConnectionWorkflow, MessageWorkflow): the benchmark
tells them apart by task queue.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from pydantic import SecretStr

from bench.mail import cpu
from bench.mail.api_process import REPO_ROOT, settings_env
from bench.mail.api_process import api_process as start_api
from bench.mail.worker_process import worker_process
from config.settings import Settings
from db.engine import create_db_engine
from tests.e2e.conftest import Stack, register_service_app, service_settings
from tests.support.servers import free_port

# The previous release, "today's design": the ConnectionWorkflow starts independent MessageWorkflows
# through one local activity per batch (start_message_workflows, eager start), and each MessageWorkflow
# runs ONE local activity, process_message (check folder, fetch, match, write items). The next commit,
# 4a12336, made message workflows children with one local activity per step.
TODAY_COMMIT = "b3165e9061902969814dbd33c5fd87995f92a9f2"

# Its own app registration at the emulator, as a second installation of the service would have.
TODAY_CLIENT_ID = "22222222-3333-4444-8555-666666666666"


@contextlib.contextmanager
def worktree(commit: str = TODAY_COMMIT) -> Iterator[Path]:
    """A detached worktree of `commit` in a temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="bench-today-"))
    path.rmdir()  # git creates it
    git = ["git", "-C", str(REPO_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(path), commit], check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False, capture_output=True)
        subprocess.run([*git, "worktree", "prune"], check=False, capture_output=True)


def _migrate(settings: Settings, code: Path) -> None:
    """The release's own migrations (`python -m db.migrate` from its worktree) on its own database."""
    done = subprocess.run(
        [sys.executable, "-m", "db.migrate"],
        cwd=code,
        env=settings_env(settings, code),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrating today's database failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")


@contextlib.asynccontextmanager
async def today_service(stack: Stack) -> AsyncIterator[Stack]:
    """The previous release's API (API_WORKERS processes) and worker, from a worktree; a Stack that
    reaches them (its settings, database, API URL) and shares the product's servers."""
    data_dir = stack.settings.data_dir / "today"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    settings = service_settings(
        data_dir, api_url, stack.env, stack.openbao, stack.emulator, queue_prefix="bench-today"
    ).model_copy(
        update={
            "ms_client_id": TODAY_CLIENT_ID,
            "ms_client_secret": SecretStr("bench-today-secret-" + uuid.uuid4().hex),
        }
    )
    with worktree() as code:
        _migrate(settings, code)
        name = f"outlook-integration {TODAY_COMMIT[:7]} (bench baseline)"
        register_service_app(stack.emulator, settings, name)
        engine = create_db_engine(settings.effective_database_url)
        cpu.label_directory(code, "today")
        try:
            with start_api(settings, port, data_dir / "api.log", code_dir=code) as served:
                with worker_process(settings, data_dir / "worker.log", code_dir=code):
                    yield Stack(
                        settings,
                        engine,
                        stack.env,
                        stack.emulator,
                        stack.openbao,
                        served,
                        data_dir / "api.log",
                    )
        finally:
            engine.dispose()
