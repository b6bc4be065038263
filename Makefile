# reprlab: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU wheel of this exact version is on local disk; a bare `torch` pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?=
XDIST ?= -n auto

.PHONY: demo test test-slow lint bench data browser install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install; the stamp is refreshed whenever pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,compare,ann]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# Optional data sets from Debian packages (see docs/data.md); prints the command when it cannot install.
data:
	@sh scripts/install-data.sh

demo: $(VENV)/.installed data
	$(BIN)/reprlab demo --output demo-output

# the report's browser test needs chromium; installed here on Debian as root, else the test says how
browser:
	@sh scripts/install-browser.sh

test: $(VENV)/.installed-dev data browser
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-slow: $(VENV)/.installed-dev data
	$(BIN)/python -m pytest $(XDIST) -m slow $(PYTEST_ARGS)

# ruff (pyflakes, import order, bugbear, pyupgrade) and mypy; both pinned in the dev extra
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-dev data
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
