"""The chaos suite: faults on the whole stack, started as `make run` starts it (`make chaos`)."""
