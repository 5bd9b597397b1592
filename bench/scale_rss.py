"""Resident memory (RSS) of each part of the stack the benchmark started (Linux /proc), summed over a
part's processes (the API is several uvicorn processes), named as bench/mail/cpu.py names them."""

from __future__ import annotations

import os
from collections import defaultdict

from bench.mail.cpu import PROC, _children, _part


def _rss_bytes(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS


def rss_mb() -> dict[str, float]:
    """MiB resident now per part, over this process and all its descendants."""
    tree = _children()
    totals: dict[str, int] = defaultdict(int)
    todo = [(os.getpid(), "benchmark")]
    while todo:
        pid, parent = todo.pop()
        try:
            part = _part(pid, parent)
            totals[part] += _rss_bytes(pid)
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        todo.extend((child, part) for child in tree.get(pid, []))
    return {part: round(n / 2**20, 1) for part, n in totals.items()}
