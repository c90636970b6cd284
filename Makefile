.DEFAULT_GOAL := help

VENV := .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
export PYTEST_ARGS

.PHONY: help serve test lint schema

help:
	@echo "Targets:"
	@echo "  serve   run the registry on 127.0.0.1:8000 (embedded SQLite, migrates and seeds itself)"
	@echo "  test    run the test suite (finds or starts a PostgreSQL; pass PYTEST_ARGS=...)"
	@echo "  lint    ruff check, ruff format --check, mypy, lint-imports (.importlinter)"
	@echo "  schema  write the GraphQL SDL to schema.graphql"
	@echo "  help    show this list"

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

serve: $(STAMP)
	$(VENV)/bin/registry serve

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check registry tests bench && $(VENV)/bin/ruff format --check registry tests bench && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports

schema: $(STAMP)
	$(VENV)/bin/registry export-schema schema.graphql
