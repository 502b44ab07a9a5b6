# stepworks: `make demo` runs every pipeline in the sandbox, `make test` runs the test suite.
# Both bootstrap .venv themselves from requirements-dev.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-layer lint synth docs bench clean

$(STAMP): requirements.txt requirements-dev.txt pipelines/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m infra demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Builds every distinct dependency layer of the dev stack for real (downloads manylinux wheels),
# checks each (pins, platform, 250 MB limit) and prints its unzipped size.
test-layer: $(STAMP)
	$(BIN)/python -m pytest -m layer -o addopts="-ra --strict-markers"

synth: $(STAMP)
	$(BIN)/python -m infra synth --out out/synth

# Workflow diagrams (Mermaid) from the rendered definitions; a test fails when they are stale.
docs: $(STAMP)
	$(BIN)/python -m infra docs --out docs

# actionlint checks .github/workflows (expressions, job wiring, the shell of run steps with shellcheck if installed).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint

bench: $(STAMP)
	for script in benchmarks/*.py; do PYTHONPATH=. $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .build out .pytest_cache .ruff_cache
