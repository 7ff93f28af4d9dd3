# d2lnets: set-up, the main job and the tests. See README.md.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= lenet-bn
ARGS ?=

.PHONY: setup data train test test-fast lint bench clean

setup:  ## a virtualenv with d2lnets and its test tools
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,export]"

data:  ## the full Fashion-MNIST set from Debian's package (root or sudo)
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST already in /usr/share/datasets/fashion-mnist"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	fi

train:  ## the chapter's example: LeNet-BN on Fashion-MNIST, the book's settings
	$(BIN)/d2lnets train $(MODEL) $(ARGS)

test:  ## the whole test suite, slow fault tests included
	$(BIN)/python -m pytest -q

test-fast:
	$(BIN)/python -m pytest -q -m "not slow"

lint:
	$(BIN)/ruff check .

bench:
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs .pytest_cache
