"""Benchmarks: `python -m bench` runs them all, `python -m bench emulator` one of them."""
