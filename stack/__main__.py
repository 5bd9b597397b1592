"""`python -m stack` (what `make run` runs): the whole local stack in the foreground. Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import sys

from stack.launch import main

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
