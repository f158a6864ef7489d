"""The pipeline's files: the params file stages read, where they write, and the row a matrix stage runs.

Every path is relative to the repository root, where ``dvc repro`` runs each stage:
``outputs/<stage>/`` (what a stage writes), ``metrics/`` and ``plots/`` (what DVC shows),
``outputs/generations/`` (per-item generation caches, DVC ``persist`` outputs kept across
reruns). ``AUDIOREASON_PARAMS`` names another params file (tests, the cluster's applied file).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from audioreason.config import load_params

PARAMS_FILE = os.environ.get("AUDIOREASON_PARAMS", "params.yaml")
OUTPUTS = Path("outputs")
METRICS = Path("metrics")
PLOTS = Path("plots")
GENERATIONS = OUTPUTS / "generations"


def stage_params(*names: str) -> Any:
    """Build only the params sections a stage reads: one section, or a tuple in the order named.

    Errors name ``section.key`` (:class:`audioreason.config.ConfigError`).
    """
    loaded = load_params(PARAMS_FILE, sections=list(names))
    return tuple(loaded[n] for n in names) if len(names) > 1 else loaded[names[0]]


def matrix_row(
    stage: str,
    rows: Mapping[str, Any],
    argv: Sequence[str] | None = None,
    *,
    flag: str = "--row",
    description: str = "",
) -> str:
    """The row of a DVC ``matrix`` stage that this process runs (``--row NAME``), checked against ``rows``.

    Raises:
        SystemExit: the row is not configured (the message lists the configured ones).
    """
    parser = argparse.ArgumentParser(description=description or f"Stage {stage}: one matrix row.")
    parser.add_argument(flag, required=True, dest="row")
    row = parser.parse_args(argv).row
    if row not in rows:
        raise SystemExit(f"{stage}: no {flag.lstrip('-')} {row!r} in {stage}.{flag.lstrip('-')}s ({', '.join(rows)})")
    return row


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Plain dict rows as JSON Lines (sorted keys: identical inputs give identical bytes); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON Lines file a previous stage wrote."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
