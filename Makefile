# Two entry points: `make demo` renders cosine.png, `make test` runs the checks (ruff, ruff
# format, mypy, the import layering) and the test suite.
# Both create .venv (Python 3.11, CPU torch) on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PIP_ARGS ?=

.PHONY: demo test gallery bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_ARGS) -c constraints.txt -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/lrplot cosine --T_max 150

test: $(VENV)/.installed
	$(VENV)/bin/ruff check lrplot tests benchmarks
	$(VENV)/bin/ruff format --check lrplot tests benchmarks
	$(VENV)/bin/mypy lrplot
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

gallery: $(VENV)/.installed
	$(VENV)/bin/lrplot gallery configs/gallery.yaml --out gallery

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) build dist *.egg-info
