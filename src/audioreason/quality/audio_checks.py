"""Per-file audio quality checks: decodable, expected sample rate, sane length, not silent.

Each check returns an :class:`AudioReport` listing every problem found, so a
single run of the ``validate`` stage names all bad files at once instead of
stopping at the first. Nothing is cached: the files are re-read every call.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

__all__ = ["AudioReport", "check_audio", "check_audio_files"]

# What soundfile/libsndfile raise for files they cannot parse; OSError covers
# unreadable paths (permissions, directories) that exist but cannot be opened.
_DECODE_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, TypeError, OSError)

# libsndfile's header log (``info.extra_info``) reports a WAV/AIFF data chunk cut
# short as e.g. ``data : 32000 (should be 15978)`` and then silently reads what is
# there, adjusting ``info.frames`` to match; this is the only trace of truncation.
_DATA_SIZE_MISMATCH = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Streaming writers (ffmpeg to a pipe) leave these placeholder sizes; not truncation.
_UNKNOWN_SIZES = frozenset({0, 0x7FFFFFFF, 0xFFFFFFFF})


@dataclass(frozen=True)
class AudioReport:
    """The outcome of checking one audio file.

    Attributes:
        path: The file checked, as given (stringified).
        ok: ``True`` when ``problems`` is empty.
        problems: Human-readable descriptions of every failed check.
        sample_rate: Sample rate in Hz, or ``None`` when the header was unreadable.
        duration_s: Duration in seconds of the samples actually decoded, or ``None``.
        rms_dbfs: RMS level over all finite samples of all channels in dBFS
            (a full-scale sine is about -3 dBFS; digital silence is ``-inf``),
            or ``None`` when the samples could not be decoded.
        channels: Number of channels, or ``None`` when the header was unreadable.
    """

    path: str
    ok: bool
    problems: tuple[str, ...]
    sample_rate: int | None = None
    duration_s: float | None = None
    rms_dbfs: float | None = None
    channels: int | None = None


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


def check_audio(
    path: str | Path,
    *,
    expected_sample_rates: Sequence[int],
    min_duration_s: float,
    max_duration_s: float,
    silence_dbfs: float,
) -> AudioReport:
    """Check that one audio file is usable for training and evaluation.

    Checks, in order: the file exists; soundfile can read its header and
    samples; the sample rate is one of ``expected_sample_rates``; the decoded
    duration lies in ``[min_duration_s, max_duration_s]``; the data chunk is as
    long as the header declares (a file cut off mid-download still decodes);
    all samples are finite; the RMS level is at least ``silence_dbfs``.

    Args:
        path: The audio file.
        expected_sample_rates: Acceptable sample rates in Hz; empty accepts any.
        min_duration_s: Shortest acceptable duration in seconds.
        max_duration_s: Longest acceptable duration in seconds.
        silence_dbfs: RMS level in dBFS below which the file counts as silent.

    Returns:
        An :class:`AudioReport`; ``ok`` is ``False`` when any check failed.
    """
    path_str = str(path)
    p = Path(path)
    if not p.exists():
        return AudioReport(path_str, False, ("missing: file does not exist",))
    if not p.is_file():
        return AudioReport(path_str, False, ("not a regular file",))

    try:
        info = sf.info(path_str)
    except _DECODE_ERRORS as e:
        return AudioReport(path_str, False, (f"undecodable: {_one_line(e)}",))

    problems: list[str] = []
    sample_rate = int(info.samplerate)
    channels = int(info.channels)
    if expected_sample_rates and sample_rate not in set(expected_sample_rates):
        allowed = ", ".join(str(r) for r in sorted(set(expected_sample_rates)))
        problems.append(f"sample rate {sample_rate} Hz not in {{{allowed}}}")

    try:
        data, _ = sf.read(path_str, dtype="float32", always_2d=True)
    except _DECODE_ERRORS as e:
        problems.append(f"undecodable: {_one_line(e)}")
        return AudioReport(path_str, False, tuple(problems), sample_rate, None, None, channels)

    n_frames = int(data.shape[0])
    duration_s = n_frames / sample_rate if sample_rate > 0 else 0.0
    if n_frames == 0:
        problems.append("empty: no audio frames")
    elif duration_s < min_duration_s:
        problems.append(f"too short ({duration_s:.3f} s < {min_duration_s:g} s)")
    elif duration_s > max_duration_s:
        problems.append(f"too long ({duration_s:.3f} s > {max_duration_s:g} s)")
    truncation = _truncation(info.extra_info)
    if truncation:
        problems.append(truncation)
    elif info.frames > 0 and n_frames < info.frames:
        problems.append(f"truncated: header declares {info.frames} frames, decoded {n_frames}")

    finite = np.isfinite(data)
    if not finite.all():
        n_nan = int(np.isnan(data).sum())
        n_inf = int(data.size - finite.sum() - n_nan)
        problems.append(f"non-finite samples ({n_nan} NaN, {n_inf} inf)")
        rms = _rms_dbfs(data[finite])
    else:
        rms = _rms_dbfs(data)
    if n_frames > 0 and rms < silence_dbfs:
        problems.append(f"silent (rms {_fmt_db(rms)} dBFS < {silence_dbfs:g} dBFS)")

    return AudioReport(
        path=path_str,
        ok=not problems,
        problems=tuple(problems),
        sample_rate=sample_rate,
        duration_s=duration_s,
        rms_dbfs=rms,
        channels=channels,
    )


def check_audio_files(
    paths: Iterable[str | Path],
    *,
    expected_sample_rates: Sequence[int],
    min_duration_s: float,
    max_duration_s: float,
    silence_dbfs: float,
) -> list[AudioReport]:
    """Run :func:`check_audio` on each distinct path once, in first-seen order.

    Args:
        paths: Audio files; repeats (many questions share one clip) are checked once.
        expected_sample_rates: See :func:`check_audio`.
        min_duration_s: See :func:`check_audio`.
        max_duration_s: See :func:`check_audio`.
        silence_dbfs: See :func:`check_audio`.

    Returns:
        One report per distinct path.
    """
    unique = list(dict.fromkeys(str(p) for p in paths))
    # disable=None turns the bar off when stderr is not a terminal (CI, DVC logs).
    return [
        check_audio(
            p,
            expected_sample_rates=expected_sample_rates,
            min_duration_s=min_duration_s,
            max_duration_s=max_duration_s,
            silence_dbfs=silence_dbfs,
        )
        for p in tqdm(unique, desc="audio checks", unit="file", disable=None)
    ]


def _truncation(extra_info: str) -> str:
    """Describe a data chunk shorter than its header declares, or return ``""``."""
    for match in _DATA_SIZE_MISMATCH.finditer(extra_info or ""):
        declared, actual = int(match.group(1)), int(match.group(2))
        if declared not in _UNKNOWN_SIZES and declared > actual:
            return f"truncated: header declares {declared} data bytes, file holds {actual}"
    return ""


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__
