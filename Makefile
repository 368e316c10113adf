# Two commands do everything on a fresh machine (each sets itself up first):
#   make reproduce   the main job: every notebook, on the embedded default (Fashion-MNIST)
#   make test        every test: unit/property tests and pytest --nbval notebooks/
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup dataset browser reproduce test bench sync clean-cache

setup: $(VENV)/.installed dataset

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,notebooks]'
	touch $@

dataset:
	@if [ -f $(FASHION) ] || [ -f data/fashion-mnist/train-images-idx3-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -q dataset-fashion-mnist || { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; \
	else echo "Fashion-MNIST is missing: run 'sudo apt-get install -y dataset-fashion-mnist'" \
	          "or copy its four *-ubyte.gz files into data/fashion-mnist/"; exit 1; fi

# Optional: Chromium lets kaleido write static PNGs beside the HTML/JSON figures (best effort).
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || apt-get install -y -q chromium >/dev/null 2>&1 || \
	  echo "no Chromium: figures are written as HTML and JSON only"

# Every notebook from the shipped weights, then the reproduction table: every number just produced
# against the committed record of the same parameters (exit status 1 outside tolerance).
# The notebooks are independent (they read the shipped weights), so they run REPRO_JOBS at a time,
# one torch thread each; 06_claims reads the others' records and runs last.
REPRO_JOBS ?= 2
reproduce: setup browser
	rm -rf runs/reproduction && mkdir -p runs/notebooks
	ls notebooks/0*.ipynb | grep -v 06_claims | OMP_NUM_THREADS=1 xargs -P $(REPRO_JOBS) -I{} sh -c \
	  'echo "running {}"; $(BIN)/papermill {} runs/notebooks/$$(basename {}) -k python3 --no-progress-bar --log-level WARNING'
	OMP_NUM_THREADS=1 $(BIN)/papermill notebooks/06_claims.ipynb runs/notebooks/06_claims.ipynb -k python3 --no-progress-bar
	@echo "figures and tables: figures/   executed notebooks: runs/notebooks/"
	$(BIN)/python -m facnn.reproduce

# Test files run in TEST_JOBS processes (one torch thread each: 2 single-threaded workers beat one
# 2-threaded process on these small models), the notebooks (the longest units) handed out first;
# a notebook's cells always share one worker.
TEST_JOBS ?= 2
test: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=15 \
	  --nbval --nbval-current-env notebooks/ tests/; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; exit $$rc

bench: setup
	$(BIN)/python -m benchmarks.attribution
	$(BIN)/python -m benchmarks.training

# Notebooks are paired with percent scripts (notebooks/*.py): after editing either side, sync them.
sync:
	$(BIN)/jupytext --sync notebooks/0*.ipynb

clean-cache:
	rm -rf data/checkpoints
