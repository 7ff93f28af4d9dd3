# d2lnets: `make train` and `make test` each set up what is missing first. See README.md.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.d2lnets-installed
MODEL ?= lenet-bn
ARGS ?=
# NUMPY=1.26.4: that numpy, held while the rest installs (a reader's machine: Colab has 2.x)
NUMPY ?=
# the numpys `make test-numpy` tests besides .venv's newest: Python 3.11's oldest, 3.12's
NUMPYS ?= 1.23.5 1.26.4

.PHONY: setup data train test test-fast test-numpy lint bench clean

# the venv is (re)made whenever the package's requirements change. MXNet goes in with
# --no-deps: its metadata asks for numpy<2 and pip would replace the numpy there is
$(STAMP): setup.py pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "MXNet build: $$($(BIN)/python d2lnets/builds.py --dry-run)"
	$(BIN)/pip install -q -e ".[test,export]" $(if $(NUMPY),"numpy==$(NUMPY)")
	req=$$($(BIN)/python d2lnets/builds.py --requirement); [ -z "$$req" ] || $(BIN)/pip install -q --no-deps $$req
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

test-numpy:  ## the fast tests under each numpy of NUMPYS, each in its own .venv-numpyX
	@for v in $(NUMPYS); do $(MAKE) --no-print-directory test-fast VENV=.venv-numpy$$v NUMPY=$$v || exit 1; done

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) .venv-numpy* build dist *.egg-info runs .pytest_cache
