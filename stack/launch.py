"""Entry point of `python -m stack`: settings, a lock on the data dir, free ports, then the supervisor."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from config.settings import Settings
from stack.config import StackPaths, StackSettings, service_settings
from stack.console import Console
from stack.parts import build_stack
from stack.supervisor import Supervisor


def _lock(path: Path) -> IO[str] | None:
    """One supervisor per data dir: a second `make run` would fight the first over ports and files."""
    handle = path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _busy_ports(stack_settings: StackSettings, api_host: str, api_port: int) -> list[str]:
    wanted = {
        "temporal": stack_settings.temporal_port,
        "temporal UI": stack_settings.temporal_ui_port,
        "openbao": stack_settings.openbao_port,
        "openbao cluster": stack_settings.openbao_cluster_port,
        "emulator": stack_settings.emulator_port,
        "api": api_port,
    }
    return [f"{name} port {port}" for name, port in wanted.items() if _port_in_use(api_host, port)]


async def main() -> int:
    console = Console()
    try:
        stack_settings = StackSettings()
        base = Settings()
    except ValidationError as exc:
        console.status("FAIL", "settings", str(exc))
        return 2
    data_dir = base.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = StackPaths(data_dir)
    paths.logs.mkdir(exist_ok=True)
    # Logs can show the admin sign-in link.
    paths.logs.chmod(0o700)

    lock = _lock(paths.lock_file)
    if lock is None:
        console.status("FAIL", "stack", f"another `python -m stack` is running on {data_dir}")
        return 1
    try:
        busy = _busy_ports(stack_settings, base.api_host, base.api_port)
        if busy:
            console.status(
                "FAIL", "stack", "in use: " + ", ".join(busy) + " (set STACK_*_PORT / API_PORT to move)"
            )
            return 1
        service = service_settings(stack_settings, data_dir)
        stack = build_stack(stack_settings, paths, service)
        console.note(f"starting the stack in {data_dir} (logs in {paths.logs}/)")
        return await Supervisor(stack, console).run()
    finally:
        lock.close()
