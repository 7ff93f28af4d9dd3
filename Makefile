# d2lnets: `make train` and `make test` each set up what is missing first. See README.md.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.d2lnets-installed
MODEL ?= lenet-bn
ARGS ?=

.PHONY: setup data train test test-fast lint bench clean

# the venv is (re)made whenever the package's requirements change
$(STAMP): setup.py pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "MXNet build: $$($(BIN)/python d2lnets/builds.py --dry-run)"
	$(BIN)/pip install -q -e ".[test,export]" $$($(BIN)/python d2lnets/builds.py --requirement)
	touch $(STAMP)

setup: $(STAMP)  ## .venv with MXNet (the build for this machine; MXNET=... overrides) and d2lnets

data: $(STAMP)  ## Fashion-MNIST: found, else Debian's package (root or sudo -n), else the download
	@bash scripts/get-data.sh $(BIN)/python

train: data  ## the chapter's example: LeNet-BN with the book's settings (MODEL=, ARGS=)
	$(BIN)/d2lnets train $(MODEL) $(ARGS)

test: setup  ## lint, then the whole test suite (slow fault tests included)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs .pytest_cache
