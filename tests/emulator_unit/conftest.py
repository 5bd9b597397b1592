pytest_plugins = ["tests.support.emulator_fixtures"]
