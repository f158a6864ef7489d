"""eGeMAPSv02 low-level descriptors with openSMILE, summarised per utterance (paper 04 §III).

"For each utterance, eGeMAPSv02 LLDs are extracted with openSMILE and summarised with a
file-level mean vector." openSMILE's eGeMAPSv02 LLD set has 25 columns at a 10 ms hop. The
``_sma3nz`` columns (F0, jitter, shimmer, HNR, harmonic differences, formants) are defined
on voiced frames only, so their file-level mean is taken over the frames with an F0 (what
eGeMAPS's own functionals do: openSMILE writes 0 on unvoiced frames for most of them but
still writes formant estimates there); the other columns are averaged over all frames.

Paper 04's Table I names the descriptors of each concept; its markdown copy has lost the
column names, so the mapping below is the reading of Table I's descriptions against the
openSMILE columns (sign: +1 where a larger value means more of the concept):

=============  ==============================================================  ==========================
concept        openSMILE eGeMAPSv02 LLD columns (file-level means)             Table I description
=============  ==============================================================  ==========================
ENERGY         ``Loudness_sma3``                                               loudness
PITCH          ``F0semitoneFrom27.5Hz_sma3nz``                                 F0, semitones from 27.5 Hz
BRIGHTNESS     ``alphaRatio_sma3`` (+), ``hammarbergIndex_sma3`` (-),          spectral tilt / energy
               ``slope0-500_sma3`` (+), ``slope500-1500_sma3`` (+)             distribution (4 columns)
DYNAMICS       ``spectralFlux_sma3``                                           spectral change rate
FORMANTS       ``F1frequency_sma3nz``, ``F2frequency_sma3nz``,                 formant frequencies
               ``F3frequency_sma3nz``                                          (3 columns)
VOICE_QUALITY  ``jitterLocal_sma3nz``, ``shimmerLocaldB_sma3nz``,              perturbation / noise and
               ``HNRdBACF_sma3nz``, ``logRelF0-H1-H2_sma3nz``,                 harmonic-relation cues
               ``logRelF0-H1-A3_sma3nz``; auxiliary: F0 and the voiced         (5 columns + auxiliary)
               fraction
=============  ==============================================================  ==========================

The Hammarberg index (strongest peak 0-2 kHz over 2-5 kHz, dB) grows as the voice darkens,
while the alpha ratio (energy 1-5 kHz over 50-1000 Hz, dB) and the spectral slopes grow as
it brightens, so the Hammarberg index enters BRIGHTNESS negated; the paper does not state
signs.

Bad input gives documented values, never a crash: an utterance shorter than one analysis
window has no frames (every mean NaN); one with no voiced frame (silence, noise, a clip too
short for the 60 ms F0 window) has NaN voiced means; a silent one (every frame's loudness
below ``silence_loudness``) also has NaN spectral means (openSMILE's spectral ratios are 0
on digital silence, not a measurement). NaN scores become the ``UNDEFINED`` token and no
voiced frame the ``UNVOICED`` voice quality (:mod:`audioreason.features.concept_tokens`).
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

SAMPLE_RATE = 16000
"""openSMILE's eGeMAPS configs are rate-independent; utterances are read at 16 kHz (IEMOCAP's and FAU-Aibo's rate)."""
CONCEPT_COLUMNS: dict[str, tuple[tuple[str, int], ...]] = {
    "ENERGY": (("Loudness_sma3", 1),),
    "PITCH": (("F0semitoneFrom27.5Hz_sma3nz", 1),),
    "BRIGHTNESS": (
        ("alphaRatio_sma3", 1),
        ("hammarbergIndex_sma3", -1),
        ("slope0-500_sma3", 1),
        ("slope500-1500_sma3", 1),
    ),
    "DYNAMICS": (("spectralFlux_sma3", 1),),
    "FORMANTS": (("F1frequency_sma3nz", 1), ("F2frequency_sma3nz", 1), ("F3frequency_sma3nz", 1)),
}
"""Table I: concept -> (openSMILE LLD column, sign) averaged after robust standardisation."""
VOICE_QUALITY_COLUMNS = (
    "jitterLocal_sma3nz",
    "shimmerLocaldB_sma3nz",
    "HNRdBACF_sma3nz",
    "logRelF0-H1-H2_sma3nz",
    "logRelF0-H1-A3_sma3nz",
)
F0_COLUMN = "F0semitoneFrom27.5Hz_sma3nz"
LOUDNESS_COLUMN = "Loudness_sma3"
SPECTRAL_COLUMNS = (
    "alphaRatio_sma3",
    "hammarbergIndex_sma3",
    "slope0-500_sma3",
    "slope500-1500_sma3",
    "spectralFlux_sma3",
)
USED_COLUMNS = tuple(
    dict.fromkeys([c for cols in CONCEPT_COLUMNS.values() for c, _ in cols] + list(VOICE_QUALITY_COLUMNS))
)
"""Every LLD column a concept or the voice-quality heuristic reads (15 of the 25)."""
SILENCE_LOUDNESS = 0.01
"""Default: an utterance whose every frame is below this loudness (sone) is silent (digital silence ~0.001)."""

_SMILE = None


def _smile():
    """One openSMILE extractor per process (building it parses the config)."""
    global _SMILE
    if _SMILE is None:
        import opensmile

        _SMILE = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.LowLevelDescriptors
        )
    return _SMILE


def lld_frames(signal: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """The 25 eGeMAPSv02 LLDs of a mono signal: ``[frames, 25]`` (10 ms hop) and the column names.

    A signal shorter than one analysis window gives 0 frames (openSMILE's one NaN row is dropped).
    """
    smile = _smile()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Segment too short")
        df = smile.process_signal(np.asarray(signal, dtype=np.float32), sample_rate)
    frames = df.to_numpy(dtype=np.float64)
    frames = frames[np.isfinite(frames).all(axis=1)]
    return frames, list(df.columns)


def file_means(
    frames: np.ndarray, columns: Sequence[str], *, silence_loudness: float = SILENCE_LOUDNESS
) -> dict[str, float]:
    """The file-level mean of every used LLD (``_sma3nz``: over the frames with an F0), plus
    ``n_frames``, ``voiced_fraction`` and ``silent``; undefined means are NaN (module docstring)."""
    idx = {c: i for i, c in enumerate(columns)}
    n = len(frames)
    out: dict[str, float] = {"n_frames": float(n)}
    silent = n == 0 or float(np.max(frames[:, idx[LOUDNESS_COLUMN]])) < silence_loudness
    voiced = frames[:, idx[F0_COLUMN]] > 0 if n else np.zeros(0, bool)
    for c in USED_COLUMNS:
        v = frames[:, idx[c]] if n else np.empty(0)
        if c.endswith("nz"):
            # openSMILE zeroes F0, jitter, shimmer, HNR and the harmonic differences on unvoiced
            # frames but still writes formant estimates there: every voiced-only column is averaged
            # over the frames that have an F0 (and a non-zero value), as eGeMAPS's functionals do.
            v = v[voiced & (v != 0)]
        out[c] = float(v.mean()) if len(v) and not (silent and c in SPECTRAL_COLUMNS) else float("nan")
    out["voiced_fraction"] = float(np.mean(frames[:, idx[F0_COLUMN]] > 0)) if n else 0.0
    out["silent"] = float(silent)
    return out


def utterance_features(path: str | Path, silence_loudness: float = SILENCE_LOUDNESS) -> dict[str, float]:
    """:func:`file_means` of one audio file read at :data:`SAMPLE_RATE`, with its ``duration_s``.

    Raises:
        audioreason.audio.io.AudioError: a missing or undecodable file (names it).
    """
    from audioreason.audio.io import load_audio

    x = load_audio(path, SAMPLE_RATE)
    frames, columns = lld_frames(x, SAMPLE_RATE)
    return {**file_means(frames, columns, silence_loudness=silence_loudness), "duration_s": len(x) / SAMPLE_RATE}


def _worker(args: tuple[str, float]) -> dict[str, float]:
    return utterance_features(*args)


@dataclass(frozen=True)
class Throughput:
    """How fast extraction ran: files per second and the real-time factor (compute s / audio s)."""

    files: int
    audio_s: float
    wall_s: float
    workers: int

    @property
    def files_per_s(self) -> float:
        return self.files / self.wall_s if self.wall_s else float("inf")

    @property
    def real_time_factor(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("nan")


def extract_features(
    paths: Iterable[str | Path], *, workers: int = 1, silence_loudness: float = SILENCE_LOUDNESS, progress: bool = True
) -> tuple[list[dict[str, float]], Throughput]:
    """:func:`utterance_features` of every file, in order, over ``workers`` processes, with a progress bar.

    Returns:
        The per-file features and the run's :class:`Throughput`.
    """
    from tqdm.auto import tqdm

    jobs = [(str(p), silence_loudness) for p in paths]
    start = time.perf_counter()
    bar = dict(total=len(jobs), desc=f"eGeMAPS ({workers} proc)", disable=not progress or None)
    if workers <= 1:
        rows = [utterance_features(*j) for j in tqdm(jobs, **bar)]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(tqdm(pool.map(_worker, jobs, chunksize=4), **bar))
    wall = time.perf_counter() - start
    return rows, Throughput(len(rows), float(sum(r["duration_s"] for r in rows)), wall, max(1, workers))
