# Two entry points: `make demo` renders cosine.png, `make test` runs the checks (ruff, ruff
# format, mypy, the import layering) and the test suite.
# Both create .venv (Python 3.11, CPU torch) on first use.
# `make test-frameworks` runs tests/frameworks and renders configs/frameworks.yaml in a
# second environment, .venv-fw (created once, then reused), with transformers, timm,
# pytorch-ignite, mmengine, DeepSpeed and Lightning installed.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PIP_ARGS ?=

VENV_FW ?= .venv-fw
FW_PY := $(VENV_FW)/bin/python
FRAMEWORKS := torch torchvision transformers accelerate timm pytorch-ignite mmengine lightning \
	jsonargparse[signatures] schedulefree pytorch-warmup

.PHONY: demo test test-frameworks gallery bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_ARGS) -c constraints.txt -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/lrplot cosine --T_max 150

test: $(VENV)/.installed
	$(VENV)/bin/ruff check lrplot tests benchmarks examples
	$(VENV)/bin/ruff format --check lrplot tests benchmarks examples
	$(VENV)/bin/mypy lrplot
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

# DeepSpeed builds from its sdist: without build isolation it uses the torch installed just
# before, and DS_BUILD_OPS=0 compiles no CUDA ops.
$(VENV_FW)/.installed: pyproject.toml constraints.txt constraints-frameworks.txt
	$(PYTHON) -m venv $(VENV_FW)
	$(FW_PY) -m pip install --quiet --upgrade pip
	sed '/^torch==/d' constraints.txt > $(VENV_FW)/constraints.txt
	$(FW_PY) -m pip install --quiet $(PIP_ARGS) -c $(VENV_FW)/constraints.txt \
		-c constraints-frameworks.txt -e ".[dev]" $(FRAMEWORKS)
	DS_BUILD_OPS=0 $(FW_PY) -m pip install --quiet $(PIP_ARGS) --no-build-isolation \
		-c $(VENV_FW)/constraints.txt -c constraints-frameworks.txt deepspeed
	touch $@

test-frameworks: $(VENV_FW)/.installed
	$(FW_PY) -m pytest tests/frameworks -p no:cacheprovider
	$(VENV_FW)/bin/lrplot gallery configs/frameworks.yaml --out docs/frameworks --check \
		--allow-import

gallery: $(VENV)/.installed
	$(VENV)/bin/lrplot gallery configs/gallery.yaml --out gallery

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) $(VENV_FW) build dist *.egg-info
