# Two commands for a fresh machine with git, make and Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
# uv from PATH when present, else a private copy installed with pip (nothing else is needed beforehand).
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
export UV_PROJECT_ENVIRONMENT := .venv
export UV_PYTHON_DOWNLOADS := never
export PYTHONUNBUFFERED := 1

.PHONY: run test lint bootstrap bench bench-quick chaos clean-data chromium

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv

# Creates or refreshes .venv from uv.lock (a no-op when it is already in sync), with the project itself
# installed editable: its console script is .venv/bin/outlook-integration (the operator CLI, cli/).
bootstrap: $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet

run: bootstrap
	.venv/bin/python -m stack

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: lint chromium
	.venv/bin/python -m pytest

# Every benchmark in full: bench/results/<date>.json and the generated table in bench/README.md.
bench: bootstrap
	.venv/bin/python -m bench

# A short form of each (<= 5 minutes); its last line is one JSON object with the figures (bench/quick.py).
bench-quick: bootstrap
	.venv/bin/python -m bench quick

# Faults on the whole stack, one at a time, each while 500 emails flow through 50 connections, each with
# its checks; a table at the end (chaos/). Options through CHAOS_ARGS, e.g.
# make chaos CHAOS_ARGS="--faults throttle,revoke --emails 60 --connections 6"
chaos: bootstrap
	.venv/bin/python -m chaos $(CHAOS_ARGS)

clean-data:
	rm -rf .data
