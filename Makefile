# AgriLink (湄潭产销通). Two commands: `make run` starts the platform, `make test` runs every check.
# Both set up what they need first: a virtual environment in .venv, the pinned dependencies from
# pyproject.toml, and the compiled translations.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test install install-dev translations messages migrate seed clean

run: install translations migrate
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/python scripts/run.py --port $(PORT)

test: install-dev translations
	$(BIN)/python scripts/check.py

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --editable ".[dev]"
	touch $@

# Compiled catalogs (.mo) are built here, never committed.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --directory translations --statistics

# After adding or changing visible strings: refresh the catalog, then translate the new entries.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete --ignore-pot-creation-date

migrate: $(VENV)/.installed
	$(BIN)/alembic upgrade head

seed: migrate
	$(BIN)/flask seed-demo

clean:
	rm -rf $(VENV) instance/agrilink.db* translations/*/LC_MESSAGES/*.mo .pytest_cache .ruff_cache
