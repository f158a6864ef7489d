#!/usr/bin/env bash
# GPU check at the papers' real sizes (benchmarks/gpu/bench.py): rollout and evaluation throughput, training-step
# peak memory. Run from anywhere; extra arguments go to bench.py (e.g. --text-layers 1 --parts a).
#   BUDGET_S  total time budget in seconds (default 420); the rows left when it is spent are skipped
#   OUT       when set, the JSON lands in $OUT/gpu_bench.json
#   PYTHON    the interpreter (default python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${PYTHON:-python3}" "$here/bench.py" --budget-s "${BUDGET_S:-420}" "$@"
