"""Resident memory (RSS) of each part of the stack the benchmark started (Linux /proc), summed over a
part's processes (the API is several uvicorn processes), named as bench/mail/cpu.py names them."""

from __future__ import annotations

from bench.mail.cpu import PROC, per_part


def _rss_bytes(pid: int) -> float:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS


def rss_mb() -> dict[str, float]:
    """MiB resident now per part, over this process and all its descendants."""
    return {part: round(n / 2**20, 1) for part, n in per_part(_rss_bytes).items()}
