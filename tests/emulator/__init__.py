"""Black-box tests of the emulator (issue 3), written from the issue text and graph-facts.md."""
