"""``audioreason data inspect``: what an importer makes of a dataset, as one JSON object.

A user runs this on a copy of a dataset before spending GPU hours on it; the world's own
metadata (``world/metadata.json``) lists the same summary for every synthetic dataset, so
a test can hold the importers to it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.records import (
    ImportResult,
    LabelledClip,
    OpenQARecord,
    QARecord,
    Soundscape,
    Utterance,
)

MAX_ERRORS = 5


def summarize(result: ImportResult, fmt: str) -> dict[str, Any]:
    """The inspect summary of an import.

    Keys: ``format``; ``records`` (usable records after the dataset's standard filtering);
    ``quarantined``; ``filtered`` (per reason); ``errors`` (the first :data:`MAX_ERRORS`
    quarantined records, each naming file and record); and where they apply ``labels``
    (records per label: emotions, VGGSound labels; clips per event label for soundscapes),
    ``gender`` (distinct speakers per gender), ``types`` (MUSIC-AVQA ``Group/Type``) and
    ``tasks`` (MMAU).
    """
    recs = result.records
    out: dict[str, Any] = {
        "format": fmt,
        "records": len(recs),
        "quarantined": len(result.quarantined),
        "filtered": dict(result.filtered),
        "errors": [str(e) for e in result.quarantined[:MAX_ERRORS]],
    }
    if recs and isinstance(recs[0], Utterance):
        if any(r.label for r in recs):
            out["labels"] = dict(sorted(Counter(r.label for r in recs).items()))
        speakers = {r.speaker: r.gender for r in recs if r.gender}
        if speakers:
            out["gender"] = dict(sorted(Counter(speakers.values()).items()))
    elif recs and isinstance(recs[0], (LabelledClip,)):
        out["labels"] = dict(sorted(Counter(r.label for r in recs).items()))
    elif recs and isinstance(recs[0], Soundscape):
        out["labels"] = dict(sorted(Counter(label for r in recs for label in r.labels).items()))
    elif recs and isinstance(recs[0], OpenQARecord):
        out["types"] = dict(sorted(Counter(f"{r.group}/{r.type}" for r in recs).items()))
    elif recs and isinstance(recs[0], QARecord) and any(r.task for r in recs):
        out["tasks"] = dict(sorted(Counter(r.task for r in recs).items()))
    return out


def inspect_dataset(fmt: str, path: str | Path, *, check_audio_exists: bool = True) -> dict[str, Any]:
    """Read ``path`` as ``fmt`` with quarantine on and summarize it (see :func:`summarize`)."""
    result = read_dataset(fmt, path, on_error="quarantine", check_audio_exists=check_audio_exists)
    return summarize(result, fmt)
