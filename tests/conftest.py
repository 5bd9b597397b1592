"""Fixtures for the whole suite: real servers on free ports (Temporal, OpenBao, the emulator)."""

pytest_plugins = [
    "tests.support.servers",
    "tests.support.emulator_fixtures",
    "tests.support.loop_stalls",
    "pytester",
]
