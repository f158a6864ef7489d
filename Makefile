# audioreason: the two commands.
#   make repro   environment + data + `dvc repro` (tiny scale)
#   make test    environment (if needed) + the whole test suite
#   make ui      MLflow UI on 127.0.0.1:5000 over mlflow.db
#   make lint    ruff check + ruff format --check (make format applies both)
#   make gpu-lock / mlflow-server-lock   re-resolve the GPU image's / tracking server's pins (needs PyPI)
#   make cluster-dvc              inside a cluster pod: DVC cache and remote from the environment (k8s/)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPS := $(VENV)/.deps
DEEPSPEED := 0.19.8

# Caches live inside the clone, so a fresh clone builds them and later runs reuse them.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export TORCH_EXTENSIONS_DIR := $(CURDIR)/.cache/torch_extensions
export DVC_SITE_CACHE_DIR := $(CURDIR)/.cache/dvc_site
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: repro test lint format ui env deps data clean-outputs cluster-dvc

env: $(STAMP)

# Re-installs only when the pins change. torch goes first (CPU wheel), then everything
# else at exact versions, then DeepSpeed against that torch; nothing may pull CUDA wheels.
# `deps` is everything but the package itself (docker/cpu.Dockerfile caches it as a layer);
# TORCH_PIP_ARGS points pip at a CPU wheel index where the CPU build is not on disk
# (the image: --index-url https://download.pytorch.org/whl/cpu).
TORCH_PIP_ARGS ?=
deps: $(DEPS)

$(DEPS): requirements/lock.txt requirements/build.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements/build.txt
	$(BIN)/pip install -q $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-build-isolation deepspeed==$(DEEPSPEED)
	@if $(BIN)/pip list 2>/dev/null | grep -iE '^(nvidia-|torchvision|torchaudio|torchcodec)'; then \
	  echo "error: CUDA / torchvision packages were installed (see above); the CPU stack must not have them"; exit 1; fi
	touch $(DEPS)

$(STAMP): $(DEPS) pyproject.toml
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

# data/ is generated (the synthetic world) when absent; it must then hash to what data.dvc
# records, and goes into the DVC cache so that `dvc status` is clean.
data: $(STAMP)
	@if [ ! -d data ]; then $(BIN)/audioreason world --out data; fi
	$(BIN)/audioreason check-data
	$(BIN)/dvc commit -q -f data.dvc

repro: data
	@mkdir -p .cache && touch .cache/repro_started   # benchmarks/pipeline_time.py times the stages from here
	$(BIN)/python -m audioreason.warm with -- $(BIN)/dvc repro   # stages fork from one warm interpreter
	@echo "Done. Results: 'dvc metrics show', outputs/, and 'make ui' for MLflow."

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean-outputs:
	rm -rf outputs metrics plots mlflow.db mlartifacts

# The images' pinned sets: `make gpu-lock` resolves requirements/gpu.in into requirements/gpu.txt,
# `make mlflow-server-lock` requirements/mlflow-server.in into requirements/mlflow-server.txt; both against
# PyPI for Linux x86_64 / CPython 3.11 (this machine's local wheel folder and pip caps are bypassed:
# the GPU set needs PyPI's CUDA build of torch).
%-lock: requirements/%.in $(STAMP)
	@mkdir -p .cache
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(BIN)/pip install --dry-run --ignore-installed --prefer-binary \
	  --quiet --report .cache/$*-report.json -r $<
	$(BIN)/python requirements/freeze_report.py .cache/$*-report.json $< > requirements/$*.txt

# In a cluster pod (k8s/): the shared DVC cache on its volume and the S3 remote from the environment
# (DVC_CACHE_DIR, DVC_REMOTE_URL, optional DVC_REMOTE_ENDPOINT_URL for MinIO and other S3-compatible stores).
# Local to the pod's checkout (.dvc/config.local): nothing here is committed. The pipeline's state
# lives on the outputs volume beside the outputs it describes: dvc.lock becomes a link to
# $(CLUSTER_LOCK), so each pod starts where the last one stopped (stages with persistent outputs,
# which DVC's run-cache never records, included). Workspace files link into the cache volume
# instead of copying it (symlink; copy where a link cannot be made).
CLUSTER_LOCK := outputs/.cluster/dvc.lock
cluster-dvc:
	@test -n "$${DVC_CACHE_DIR:-}" || { echo "error: DVC_CACHE_DIR is not set (the dvc-cache volume's mount)"; exit 1; }
	@test -n "$${DVC_REMOTE_URL:-}" || { echo "error: DVC_REMOTE_URL is not set (s3://bucket/prefix)"; exit 1; }
	$(BIN)/dvc cache dir --local "$$DVC_CACHE_DIR"
	$(BIN)/dvc config --local cache.shared group
	$(BIN)/dvc remote add --local --force --default cluster "$$DVC_REMOTE_URL"
	@if [ -n "$${DVC_REMOTE_ENDPOINT_URL:-}" ]; then \
	  $(BIN)/dvc remote modify --local cluster endpointurl "$$DVC_REMOTE_ENDPOINT_URL"; fi
	$(BIN)/dvc config --local cache.type reflink,symlink,copy
	@mkdir -p $(dir $(CLUSTER_LOCK))
	@if [ ! -s $(CLUSTER_LOCK) ]; then printf "schema: '2.0'\nstages: {}\n" > $(CLUSTER_LOCK); \
	  echo "$(CLUSTER_LOCK): a new pipeline state"; else echo "$(CLUSTER_LOCK): continuing"; fi
	ln -sfn $(CURDIR)/$(CLUSTER_LOCK) dvc.lock
