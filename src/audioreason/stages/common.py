"""What every stage module shares: the params file it reads and where it writes."""

from __future__ import annotations

import os
from pathlib import Path

from audioreason.config import load_params

PARAMS_FILE = os.environ.get("AUDIOREASON_PARAMS", "params.yaml")
OUTPUTS = Path("outputs")
METRICS = Path("metrics")
PLOTS = Path("plots")


def sections(*names: str):
    """Build only the params sections a stage reads (their errors name ``section.key``)."""
    loaded = load_params(PARAMS_FILE, sections=list(names))
    return loaded if len(names) > 1 else loaded[names[0]]
