# audioreason: the two commands.
#   make repro   environment + data + `dvc repro` (tiny scale)
#   make test    environment (if needed) + the whole test suite
#   make ui      MLflow UI on 127.0.0.1:5000 over mlflow.db
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

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

.PHONY: repro test ui env data clean-outputs

env: $(STAMP)

# Re-installs only when the pins change. torch goes first (CPU wheel), then everything
# else at exact versions, then DeepSpeed against that torch; nothing may pull CUDA wheels.
$(STAMP): requirements/lock.txt requirements/build.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements/build.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements/lock.txt
	$(BIN)/pip install -q --no-build-isolation deepspeed==0.19.8
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@if $(BIN)/pip list 2>/dev/null | grep -iE '^(nvidia-|torchvision|torchaudio|torchcodec)'; then \
	  echo "error: CUDA / torchvision packages were installed (see above); the CPU stack must not have them"; exit 1; fi
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
	$(BIN)/dvc repro
	@echo "Done. Results: 'dvc metrics show', outputs/, and 'make ui' for MLflow."

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean-outputs:
	rm -rf outputs metrics plots mlflow.db mlartifacts
