"""Per-file audio quality checks, decoded once: usable, in bounds, not silent or clipped.

Each file is opened once; its header and samples feed every check and, when asked, the
overlap fingerprint (:mod:`audioreason.quality.fingerprint`). Each problem carries a
stable check key (:data:`audioreason.quality.checks.AUDIO_CHECKS`) next to its text, and
an :class:`AudioReport` lists every problem found, so one ``validate`` run names all bad
files at once instead of stopping at the first. Limits differ per manifest (VCTK is
48 kHz FLAC, MAESTRO 44.1 kHz, IEMOCAP 16 kHz), so they travel with each file as
:class:`AudioLimits`.
"""

from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from audioreason.quality.fingerprint import Fingerprint, audio_fingerprint

__all__ = ["CLIP_LEVEL", "AudioJob", "AudioLimits", "AudioReport", "check_audio", "check_audio_files", "run_audio_jobs"]

#: A sample at or above this magnitude (full scale is 1.0) counts as clipped.
CLIP_LEVEL = 0.999

# What soundfile/libsndfile raise for files they cannot parse; OSError covers
# unreadable paths (permissions, directories) that exist but cannot be opened.
_DECODE_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, TypeError, OSError)

# libsndfile's header log (``extra_info``) reports a WAV/AIFF data chunk cut short as
# e.g. ``data : 32000 (should be 15978)`` and then silently reads what is there,
# adjusting ``frames`` to match; this is the only trace of truncation.
_DATA_SIZE_MISMATCH = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Streaming writers (ffmpeg to a pipe) leave these placeholder sizes; not truncation.
_UNKNOWN_SIZES = frozenset({0, 0x7FFFFFFF, 0xFFFFFFFF})


@dataclass(frozen=True)
class AudioLimits:
    """What one manifest's audio must satisfy.

    Attributes:
        sample_rates: Acceptable sample rates in Hz; empty accepts any.
        max_channels: Most channels a file may have (1 = mono required).
        min_duration_s: Shortest acceptable duration, seconds.
        max_duration_s: Longest acceptable duration, seconds.
        silence_dbfs: RMS level in dBFS below which a file counts as silent.
        clipping_fraction: Largest fraction of samples (all channels) at ``|x| >=``
            :data:`CLIP_LEVEL` before a file counts as clipped.
    """

    sample_rates: tuple[int, ...] = ()
    max_channels: int = 2
    min_duration_s: float = 0.0
    max_duration_s: float = math.inf
    silence_dbfs: float = -60.0
    clipping_fraction: float = 0.01

    def __post_init__(self):
        object.__setattr__(self, "sample_rates", tuple(sorted(set(int(r) for r in self.sample_rates))))


@dataclass(frozen=True)
class AudioReport:
    """The outcome of checking one audio file.

    Attributes:
        path: The file checked, as given (stringified).
        ok: ``True`` when ``problems`` is empty.
        problems: Human-readable descriptions of every failed check.
        checks: The check key of each problem (same order as ``problems``).
        sample_rate: Sample rate in Hz, or ``None`` when the header was unreadable.
        duration_s: Duration in seconds of the samples actually decoded, or ``None``.
        rms_dbfs: RMS level over all finite samples of all channels in dBFS
            (a full-scale sine is about -3 dBFS; digital silence is ``-inf``),
            or ``None`` when the samples could not be decoded.
        channels: Number of channels, or ``None`` when the header was unreadable.
        clipped_fraction: Fraction of samples at full scale, or ``None``.
        fingerprint: The overlap fingerprint when requested and the audio is not silent.
    """

    path: str
    ok: bool
    problems: tuple[str, ...]
    checks: tuple[str, ...] = ()
    sample_rate: int | None = None
    duration_s: float | None = None
    rms_dbfs: float | None = None
    channels: int | None = None
    clipped_fraction: float | None = None
    fingerprint: Fingerprint | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AudioJob:
    """One file to check: its limits and whether to fingerprint it."""

    path: str
    limits: AudioLimits
    fingerprint: bool = False


def _rms_dbfs(data: np.ndarray) -> float:
    """RMS of ``data`` in dBFS (float64 accumulation; ``-inf`` for all-zero or empty input)."""
    if data.size == 0:
        return -math.inf
    mean_square = float(np.mean(np.square(data, dtype=np.float64)))
    if mean_square <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_square)


def _fmt_db(value: float) -> str:
    return "-inf" if value == -math.inf else f"{value:.1f}"


def check_audio(path: str | Path, limits: AudioLimits, *, fingerprint: bool = False) -> AudioReport:
    """Check that one audio file is usable for training and evaluation.

    Checks, in order: the file exists (``audio.missing``); soundfile can read its header
    and samples (``audio.undecodable``); the sample rate is allowed
    (``audio.sample_rate``); it has at most ``max_channels`` channels
    (``audio.channels``); it has frames and the decoded duration lies in the bounds
    (``audio.duration``); the data chunk is as long as the header declares
    (``audio.truncated``: a file cut off mid-download still decodes); all samples are
    finite (``audio.non_finite``); the RMS level is at least ``silence_dbfs``
    (``audio.silent``); at most ``clipping_fraction`` of the samples are at full scale
    (``audio.clipping``).

    Args:
        path: The audio file.
        limits: What the file must satisfy.
        fingerprint: Also compute the overlap fingerprint from the decoded samples.

    Returns:
        An :class:`AudioReport`; ``ok`` is ``False`` when any check failed.
    """
    path_str = str(path)
    p = Path(path)
    if not p.exists():
        return AudioReport(path_str, False, ("missing: file does not exist",), ("audio.missing",))
    if not p.is_file():
        return AudioReport(path_str, False, ("undecodable: not a regular file",), ("audio.undecodable",))

    try:
        with sf.SoundFile(path_str) as f:
            sample_rate, channels = int(f.samplerate), int(f.channels)
            declared_frames, extra_info = int(f.frames), f.extra_info
            try:
                data = f.read(dtype="float32", always_2d=True)
                read_error = None
            except _DECODE_ERRORS as e:
                data, read_error = None, e
    except _DECODE_ERRORS as e:
        return AudioReport(path_str, False, (f"undecodable: {_one_line(e)}",), ("audio.undecodable",))

    found: list[tuple[str, str]] = []
    if limits.sample_rates and sample_rate not in limits.sample_rates:
        allowed = ", ".join(str(r) for r in limits.sample_rates)
        found.append(("audio.sample_rate", f"sample rate {sample_rate} Hz not in {{{allowed}}}"))
    if channels > limits.max_channels:
        found.append(("audio.channels", f"{channels} channels, at most {limits.max_channels} allowed"))
    if data is None:
        found.append(("audio.undecodable", f"undecodable: {_one_line(read_error)}"))
        return _report(path_str, found, sample_rate=sample_rate, channels=channels)

    n_frames = int(data.shape[0])
    duration_s = n_frames / sample_rate if sample_rate > 0 else 0.0
    if n_frames == 0:
        found.append(("audio.duration", "empty: no audio frames"))
    elif duration_s < limits.min_duration_s:
        found.append(("audio.duration", f"too short ({duration_s:.3f} s < {limits.min_duration_s:g} s)"))
    elif duration_s > limits.max_duration_s:
        found.append(("audio.duration", f"too long ({duration_s:.3f} s > {limits.max_duration_s:g} s)"))
    truncation = _truncation(extra_info)
    if truncation:
        found.append(("audio.truncated", truncation))
    elif declared_frames > 0 and n_frames < declared_frames:
        found.append(("audio.truncated", f"truncated: header declares {declared_frames} frames, decoded {n_frames}"))

    finite = np.isfinite(data)
    if not finite.all():
        n_nan = int(np.isnan(data).sum())
        n_inf = int(data.size - finite.sum() - n_nan)
        found.append(("audio.non_finite", f"non-finite samples ({n_nan} NaN, {n_inf} inf)"))
        finite_data = data[finite]
    else:
        finite_data = data
    rms = _rms_dbfs(finite_data)
    if n_frames > 0 and rms < limits.silence_dbfs:
        found.append(("audio.silent", f"silent (rms {_fmt_db(rms)} dBFS < {limits.silence_dbfs:g} dBFS)"))
    clipped = float(np.count_nonzero(np.abs(finite_data) >= CLIP_LEVEL)) / data.size if data.size else 0.0
    if clipped > limits.clipping_fraction:
        found.append(
            (
                "audio.clipping",
                f"clipping: {100 * clipped:.2f}% of samples at full scale (|x| >= {CLIP_LEVEL:g}; "
                f"at most {100 * limits.clipping_fraction:g}% allowed)",
            )
        )
    fp = audio_fingerprint(data, sample_rate) if fingerprint and n_frames > 0 else None
    return _report(
        path_str,
        found,
        sample_rate=sample_rate,
        duration_s=duration_s,
        rms_dbfs=rms,
        channels=channels,
        clipped_fraction=clipped,
        fingerprint=fp,
    )


def _report(path: str, found: list[tuple[str, str]], **values) -> AudioReport:
    return AudioReport(path, not found, tuple(t for _, t in found), tuple(k for k, _ in found), **values)


def run_audio_jobs(jobs: Sequence[AudioJob], *, workers: int = 1, desc: str = "audio checks") -> list[AudioReport]:
    """Check every job, in order, with a progress bar.

    libsndfile and numpy release the GIL while they decode and transform, so a few threads
    overlap file I/O and computation.

    Args:
        jobs: The files with their limits.
        workers: Threads (1 checks in the calling thread; 0 uses one per CPU core).
        desc: Progress bar label.

    Returns:
        One report per job, in job order.
    """
    if workers == 0:
        workers = os.cpu_count() or 1

    def one(job: AudioJob) -> AudioReport:
        return check_audio(job.path, job.limits, fingerprint=job.fingerprint)

    # disable=None turns the bar off when stderr is not a terminal (CI, DVC logs).
    with tqdm(total=len(jobs), desc=desc, unit="file", disable=None) as bar:
        if workers <= 1 or len(jobs) < 2:
            out = []
            for job in jobs:
                out.append(one(job))
                bar.update()
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            out = []
            for report in pool.map(one, jobs):
                out.append(report)
                bar.update()
            return out


def check_audio_files(
    paths: Iterable[str | Path], limits: AudioLimits, *, fingerprint: bool = False, workers: int = 1
) -> list[AudioReport]:
    """Run :func:`check_audio` on each distinct path once, in first-seen order.

    Args:
        paths: Audio files; repeats (many questions share one clip) are checked once.
        limits: What every file must satisfy.
        fingerprint: Also fingerprint each file.
        workers: See :func:`run_audio_jobs`.

    Returns:
        One report per distinct path.
    """
    unique = list(dict.fromkeys(str(p) for p in paths))
    return run_audio_jobs([AudioJob(p, limits, fingerprint) for p in unique], workers=workers)


def _truncation(extra_info: str) -> str:
    """Describe a data chunk shorter than its header declares, or return ``""``."""
    for match in _DATA_SIZE_MISMATCH.finditer(extra_info or ""):
        declared, actual = int(match.group(1)), int(match.group(2))
        if declared not in _UNKNOWN_SIZES and declared > actual:
            return f"truncated: header declares {declared} data bytes, file holds {actual}"
    return ""


def _one_line(e: BaseException | None) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__
