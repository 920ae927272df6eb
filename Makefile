# Pact Monitor: the two set-up commands are `make run` and `make test` (see README.md).
# Both work from a bare machine with Python 3.11: they install what they need and skip what is present.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Keep every cache and tool state inside the workspace, not in $HOME.
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
export XDG_CACHE_HOME := $(CURDIR)/.cache
export XDG_CONFIG_HOME := $(CURDIR)/.cache/config
export XDG_DATA_HOME := $(CURDIR)/.cache/share
export IPYTHONDIR := $(CURDIR)/.cache/ipython
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.cache/jupyter
export DASH_DISABLE_VERSION_CHECK := true
export PYTHONDONTWRITEBYTECODE := 1
# ... but the installed packages are compiled once, at install: without their bytecode every process compiled them
# again on start (a dashboard worker's imports took 2.5 s instead of 0.85 s, the pipeline's 1.6 s instead of 0.55 s).
export UV_COMPILE_BYTECODE := 1

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
UV_VERSION := 0.13.9
PORT ?= 8050

.PHONY: help install browser run pipeline serve test lint bench clean

help:
	@echo "make run    install, build data/curated from data/raw, serve the dashboard on http://127.0.0.1:$(PORT)"
	@echo "make test   install what the tests need (Chromium included) and run the whole suite"
	@echo "make lint   ruff and mypy"
	@echo "make bench  run the benchmarks in benchmarks/ and write benchmarks/results.md"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The environment is rebuilt only when the lock file changes.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet
	@touch $@

install: $(VENV)/.synced

# Debian's Chromium: headless browser tests and kaleido's server-side chart images. Skipped when present.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium (headless browser for tests and chart images)..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

pipeline: install
	$(PY) -m pipelines

# The production server (as in the Procfile), bound to loopback; `python -m dashboard --debug` is for development.
serve: install
	@echo "Pact Monitor: http://127.0.0.1:$(PORT)  (Ctrl+C stops it)"
	$(VENV)/bin/gunicorn dashboard.wsgi:server --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --no-control-socket

run: install browser pipeline serve

test: install browser
	$(PY) -m pytest

# ruff, then mypy over what [tool.mypy] files lists in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install browser
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .tools .cache .pytest_cache data/curated/snapshots data/curated/current data/curated/runs.jsonl
