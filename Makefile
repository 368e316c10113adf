# Two commands do everything on a fresh machine (each sets itself up first):
#   make reproduce   the main job: every notebook, on the embedded default (Fashion-MNIST)
#   make test        every test: unit/property tests and pytest --nbval notebooks/
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup dataset browser reproduce lab screenshots book test bench sync format lint clean-cache

setup: $(VENV)/.installed dataset

# --no-compile: byte-compiling all of torch at install took 201 s against 125 s without (one session, empty
# pip cache); the modules a run imports are compiled on first import instead.
# torch's CUDA build (the one pip takes for torch 2.14.1) with its nvidia-* libraries and triton is 5.2 GB of the 6.5 GB
# venv; checked first, so a small disk stops here with the fix named, not with ENOSPC in the middle of pip.
SETUP_FREE_GB ?= 7
$(VENV)/.installed: pyproject.toml
	@$(PY) -c "import shutil, sys, os; d = os.path.dirname(os.path.abspath('$(VENV)')); free = shutil.disk_usage(d).free / 2**30; \
	  sys.exit(0 if free >= $(SETUP_FREE_GB) else f'setup needs about $(SETUP_FREE_GB) GB free for $(VENV) (torch and its CUDA libraries) ' \
	  f'but {d} has {free:.1f} GB: free some space, or put the environment elsewhere with make VENV=/path/with/space')"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-compile -e '.[test,notebooks]'
	touch $@

# Debian packages, installed only where missing; stale package lists are refreshed once when an
# install fails; not root (or no apt-get): say what to run instead.
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

dataset:
	@if [ -f $(FASHION) ] || [ -f data/fashion-mnist/train-images-idx3-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  $(APT_INSTALL) dataset-fashion-mnist || { apt-get update -q && $(APT_INSTALL) dataset-fashion-mnist; } || \
	  { echo "could not install Debian's dataset-fashion-mnist: copy its four *-ubyte.gz files into data/fashion-mnist/" >&2; exit 1; }; \
	else echo "Fashion-MNIST is missing: run 'sudo apt-get install -y dataset-fashion-mnist'" \
	          "or copy its four *-ubyte.gz files into data/fashion-mnist/" >&2; exit 1; fi

# Optional: Chromium lets kaleido write PNGs beside the HTML/JSON figures (make reproduce, make screenshots).
# Found by the lookup kaleido itself uses; without it every figure is still written as HTML and JSON.
browser: setup
	@if $(BIN)/python -c "import sys; from facnn.viz.png_export import find_browser; sys.exit(find_browser() is None)"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium (for PNG figures)"; \
	  $(APT_INSTALL) chromium fonts-liberation >/dev/null || \
	    { apt-get update -q >/dev/null && $(APT_INSTALL) chromium fonts-liberation >/dev/null; } || \
	  echo "could not install Chromium: figures are written as HTML and JSON only" >&2; \
	else echo "no Chromium and not root: figures are written as HTML and JSON only (for PNGs: sudo apt-get install chromium)" >&2; fi

# Every notebook from the shipped weights into runs/reproduction/ (figures, records; executed notebooks in
# runs/notebooks/), then the reproduction table: every number just produced against the committed record of the
# same parameters (exit status 1 outside tolerance). The committed records (figures/*.json) are only read:
# 'python -m facnn.companion.records accept runs/reproduction/figures' copies runs into them when a result is meant to change.
# The notebooks are independent (they read the shipped weights), so they run REPRO_JOBS at a time,
# one torch thread each; 06_claims reads the committed records and runs last.
REPRO_JOBS ?= 2
REPRO := runs/reproduction
reproduce: setup browser
	rm -rf $(REPRO) && mkdir -p runs/notebooks $(REPRO)
	-git status --porcelain > $(REPRO)/tree-before.txt 2>/dev/null
	ls notebooks/0*.ipynb | grep -v 06_claims | FACNN_OUT=$(CURDIR)/$(REPRO)/figures OMP_NUM_THREADS=1 xargs -P $(REPRO_JOBS) -I{} sh -c \
	  'echo "running {}"; $(BIN)/papermill {} runs/notebooks/$$(basename {}) -k python3 --no-progress-bar --log-level WARNING'
	FACNN_OUT=$(CURDIR)/$(REPRO)/figures OMP_NUM_THREADS=1 $(BIN)/papermill notebooks/06_claims.ipynb runs/notebooks/06_claims.ipynb \
	  -k python3 --no-progress-bar --log-level WARNING
	@echo "figures: $(REPRO)/figures/   executed notebooks: runs/notebooks/"
	@if [ -f $(REPRO)/tree-before.txt ] && git status --porcelain > $(REPRO)/tree-after.txt 2>/dev/null && \
	  ! cmp -s $(REPRO)/tree-before.txt $(REPRO)/tree-after.txt; then \
	  echo "make reproduce changed files git tracks (it must only write under runs/):" >&2; \
	  diff $(REPRO)/tree-before.txt $(REPRO)/tree-after.txt >&2; exit 1; fi
	$(BIN)/python -m facnn.companion.reproduce

# Open the notebooks in JupyterLab with this venv's 'python3' kernel (JUPYTER_PATH puts the venv's kernel
# spec before any user-level one a Jupyter install may have left in ~/.local/share/jupyter).
lab: setup
	JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter$${JUPYTER_PATH:+:$$JUPYTER_PATH} $(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

# Screenshots of executed notebooks in JupyterLab (headless Chromium driven by playwright).
screenshots: browser
	$(BIN)/pip install -q -e '.[screenshots]'
	$(BIN)/python tools/screenshot_notebooks.py runs/notebooks/0*.ipynb --out runs/screenshots

# The companion book: a static site in build/book/ (open build/book/index.html; nothing is fetched online):
# the executed notebooks of runs/notebooks/ (make reproduce first when there are none), README, RESULTS and
# docs/ pages and the API reference (Sphinx, myst-nb and furo: the [book] extra).
book: setup
	@ls runs/notebooks/0*.ipynb >/dev/null 2>&1 || { echo "no executed notebooks in runs/notebooks/: running make reproduce first"; $(MAKE) reproduce; }
	$(BIN)/pip install -q --no-compile -e '.[book]'
	OMP_NUM_THREADS=1 $(BIN)/python tools/build_book.py --notebooks runs/notebooks --out build/book

# Test files run in TEST_JOBS processes (one torch thread each: 2 single-threaded workers beat one
# 2-threaded process on these small models), the notebooks (the longest units) handed out first;
# a notebook's cells always share one worker. Chromium (the `browser` step) is for the tests that open
# the book and the explorer in a real browser; PNG export stays off (FACNN_PNG=0) except in the tests
# of the export itself, which hide or fake the browser. Nothing may hang: a test
# (or notebook cell) still running after TEST_TIMEOUT seconds fails with the stack it waits in.
TEST_JOBS ?= 2
TEST_TIMEOUT ?= 1200
test: setup browser
	FACNN_PNG=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=15 \
	  --timeout=$(TEST_TIMEOUT) --nbval-cell-timeout=$(TEST_TIMEOUT) --nbval notebooks/ tests/; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; exit $$rc

bench: setup
	$(BIN)/python -m benchmarks.attribution
	$(BIN)/python -m benchmarks.training

# Notebooks are paired with percent scripts (notebooks/*.py): after editing either side, sync them.
sync:
	$(BIN)/jupytext --sync notebooks/0*.ipynb

# Code style, enforced by make test (tests/test_sources.py, tests/test_typing.py): ruff format and ruff
# check (pycodestyle with line length 120, pyflakes, import order) on everything, mypy on the package.
SOURCES := facnn tools benchmarks tests hubconf.py $(wildcard notebooks/0*.py)
format: setup
	$(BIN)/python -m ruff format $(SOURCES)
	$(BIN)/python -m ruff check --fix $(SOURCES)
	$(BIN)/jupytext --sync notebooks/0*.py

lint: setup
	$(BIN)/python -m ruff format --check $(SOURCES)
	$(BIN)/python -m ruff check $(SOURCES)
	$(BIN)/python -m mypy

clean-cache:
	rm -rf data/checkpoints
