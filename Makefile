# The developer commands. Prerequisites: Python >= 3.12 and make; everything else is installed into .venv
# from the committed, hash-pinned lock files (requirements/*.lock).
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON := .venv/bin/python
MANAGE := $(PYTHON) manage.py

.PHONY: help run test lint migrate demo lock clean

help:
	@echo "make run      install, migrate, load demo data, serve http://127.0.0.1:8000 and run the job queue"
	@echo "make test     install dev tools, then ruff, ruff format --check, mypy and pytest"
	@echo "make migrate  apply database migrations"
	@echo "make demo     load the demo accounts (idempotent)"
	@echo "make bench    search, usage and (with DATABASE_URL and REDIS_URL) gateway benchmarks; prints the figures"
	@echo "make lock     regenerate requirements/*.lock from pyproject.toml (with uv, in a throwaway venv)"
	@echo "make clean    remove .venv, caches and collected static files (keeps the data in var/)"

run:
	@scripts/run

test:
	@scripts/venv-sync dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .
	.venv/bin/pytest

lint:
	@scripts/venv-sync dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

migrate:
	@scripts/venv-sync base
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

demo: migrate
	$(MANAGE) load_demo

lock:
	@scripts/lock

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .hypothesis var/static
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +

.PHONY: bench
# Search benchmark (not a test): 100,000 generated listings in throwaway databases (var/bench/ for SQLite,
# modelmarket_bench on the server in DATABASE_URL for PostgreSQL); prints p50/p95 per query.
bench:
	@scripts/venv-sync dev
	@scripts/bench-tools
	$(PYTHON) -m bench.search --database sqlite
	@if [ -n "$$DATABASE_URL" ]; then $(PYTHON) -m bench.search --database "$$DATABASE_URL"; \
	else echo "set DATABASE_URL=postgres://... to benchmark PostgreSQL too (database modelmarket_bench)"; fi
	$(PYTHON) -m bench.usage --database sqlite && if [ -n "$$DATABASE_URL" ]; then $(PYTHON) -m bench.usage --database "$$DATABASE_URL"; fi
	@if [ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then $(PYTHON) -m bench.gateway --database "$$DATABASE_URL"; \
	else echo "set DATABASE_URL=postgres://... and REDIS_URL=redis://... to benchmark the gateway too (needs wrk and nginx)"; fi
