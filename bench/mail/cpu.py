"""CPU time used by each part of the stack the benchmark started (Linux /proc), so a phase can say
where the machine's cores went per email: worker, Temporal, API, emulator, OpenBao, the benchmark.
Processes running from a labelled directory (the previous release's worktree) are named with its label
first: "today worker", "today api"."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PARTS = (  # first match wins, on the process's command line
    ("worker", "worker.py"),
    ("api", "uvicorn"),
    ("emulator", "-m emulator"),
    ("openbao", "bao server"),
    ("temporal", "temporal"),
)
# directory -> label, for the processes whose working directory is in it
_LABELS: dict[Path, str] = {}


def label_directory(path: Path, label: str) -> None:
    _LABELS[path.resolve()] = label


def _label(pid: int) -> str | None:
    if not _LABELS:
        return None
    cwd = Path(os.readlink(PROC / str(pid) / "cwd"))
    return next((label for d, label in _LABELS.items() if cwd == d or d in cwd.parents), None)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree[ppid].append(int(entry.name))
    return tree


def _seconds(pid: int) -> float:
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _part(pid: int, parent: str) -> str:
    """By command line; a process that matches none belongs to its parent's part (uvicorn's worker
    processes are `python -c from multiprocessing.spawn ...`)."""
    cmdline = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    name = next((name for name, marker in PARTS if marker in cmdline), None)
    if name is None:
        return parent
    label = _label(pid)
    return f"{label} {name}" if label else name


def snapshot() -> dict[str, float]:
    """CPU seconds so far per part, over this process and all its descendants alive now."""
    return per_part(_seconds)


def per_part(measure: Callable[[int], float]) -> dict[str, float]:
    """`measure(pid)` summed per part, over this process and all its descendants alive now."""
    tree = _children()
    totals: dict[str, float] = defaultdict(float)
    todo = [(os.getpid(), "benchmark")]
    while todo:
        pid, parent = todo.pop()
        try:
            part = _part(pid, parent)
            totals[part] += measure(pid)
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        todo.extend((child, part) for child in tree.get(pid, []))
    return dict(totals)


def per_email_ms(before: dict[str, float], after: dict[str, float], emails: int) -> dict[str, float]:
    parts = sorted(set(before) | set(after))
    used = {p: after.get(p, 0.0) - before.get(p, 0.0) for p in parts}
    used["all"] = sum(used.values())
    return {p: round(1000 * s / max(emails, 1), 1) for p, s in used.items()}
