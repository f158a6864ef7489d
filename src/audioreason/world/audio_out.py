"""Clip files of the world writers: 16-bit PCM WAV / FLAC output, levels, placement, clip ids.

Every dataset writer stores its audio through :func:`write_audio` (16-bit PCM, as the real
releases), sets a clip's loudness with :func:`at_peak`, mixes sources into a bed with
:func:`place` and names YouTube-derived clips (AVQA, VGGSound, DESED, AudioSet) with
:func:`ytid`.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import soundfile as sf


def write_audio(path: Path, x: np.ndarray, sr: int, fmt: str = "WAV") -> None:
    """Write ``x`` as 16-bit PCM WAV or FLAC, creating the parent folders.

    Args:
        path: Output file.
        x: Mono waveform, float in [-1, 1] (clipped beyond).
        sr: Sample rate in Hz.
        fmt: ``"WAV"`` or ``"FLAC"`` (a soundfile format name).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(x, -1.0, 1.0), sr, subtype="PCM_16", format=fmt)


def ytid(rng: np.random.Generator) -> str:
    """An 11-character YouTube-style id; ``-`` and ``_`` occur, so importers split on the LAST underscore."""
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(alphabet[i] for i in rng.integers(len(alphabet), size=11))


def at_peak(x: np.ndarray, rng: np.random.Generator, lo_db: float = -12.0, hi_db: float = -3.0) -> np.ndarray:
    """Scale to a seeded peak level in [lo_db, hi_db] dBFS."""
    peak = 10 ** (rng.uniform(lo_db, hi_db) / 20)
    return (peak * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def place(bed: np.ndarray, x: np.ndarray, start: int) -> None:
    """Add ``x`` into ``bed`` from sample ``start`` (cut at the end of the bed)."""
    start = max(0, start)
    end = min(len(bed), start + len(x))
    if end > start:
        bed[start:end] += x[: end - start]
