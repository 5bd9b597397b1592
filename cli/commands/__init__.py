"""One module per resource; each `register(subparsers, common)` adds its commands, every leaf parser
taking `common` (the --json flag) as a parent and a `handler` default."""
