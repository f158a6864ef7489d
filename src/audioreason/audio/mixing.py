"""Speech + background mixtures at a controlled SNR (paper 05, SSEU-Bench §2.1).

"Each audio sample is mixed with a pure speech clip and a non-speech background audio clip
with a specific SNR", mono at 44.1 kHz; SNR in {+inf, 10, 5, 0, -5, -10, -inf} dB, where
+inf is the speech alone and -inf the background alone.

SNR definition used here (the paper does not spell it out): the ratio of the mean power of
the placed speech to the mean power of the scaled background *over the samples the speech
occupies*,

    SNR = 10 log10( sum_{t in speech} s(t)^2 / sum_{t in speech} (g_b b(t))^2 ),

so the background's level outside the utterance (a long MAESTRO recording, a silent start)
does not change how audible the speech is. The speech keeps its level; the background gain
``g_b`` is solved for. When the sum would exceed full scale anywhere, both sources are
multiplied by the same factor (recorded as ``headroom_gain``): the SNR is unchanged and no
sample is clipped.

Backgrounds are read as a window (``read_window``: only the frames needed, never a whole
MAESTRO recording) and resampled to the mixing rate; a window longer than the file is filled
by repeating the file (``looped``, counted by the caller).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audioreason.audio.io import AudioError, resample

MIX_RATE = 44100
"""SSEU-Bench mixes at 44.1 kHz; models resample at load time."""
SNR_LEVELS = (math.inf, 10.0, 5.0, 0.0, -5.0, -10.0, -math.inf)
"""Paper 05's seven conditions, in Table 1's column order."""
PEAK_LIMIT = 0.99
"""Largest absolute sample value of a mixture (full scale is 1.0)."""


class MixError(ValueError):
    """A pair of clips that cannot be mixed at the requested SNR (the message says why)."""


def snr_key(snr: float) -> str:
    """Metric / file key of an SNR: ``snr_inf``, ``snr_10``, ``snr_m5``, ``snr_minf`` (paper_tables.yaml).

    >>> [snr_key(s) for s in SNR_LEVELS]
    ['snr_inf', 'snr_10', 'snr_5', 'snr_0', 'snr_m5', 'snr_m10', 'snr_minf']
    """
    if math.isinf(snr):
        return "snr_inf" if snr > 0 else "snr_minf"
    return f"snr_{'m' if snr < 0 else ''}{abs(int(snr)) if float(snr).is_integer() else abs(snr)}"


def measured_snr(speech: np.ndarray, background: np.ndarray) -> float:
    """10 log10 of the speech's over the background's energy, both over the same samples (dB)."""
    ps, pb = float(np.sum(np.square(speech, dtype=np.float64))), float(np.sum(np.square(background, dtype=np.float64)))
    if ps == 0 and pb == 0:
        return float("nan")
    if pb == 0:
        return math.inf
    if ps == 0:
        return -math.inf
    return 10.0 * math.log10(ps / pb)


@dataclass(frozen=True)
class Mixture:
    """A mixture and how it was made: ``audio`` = ``headroom_gain`` * (``speech_gain`` * placed speech +
    ``background_gain`` * background); the SNR over the speech's samples is ``snr_db``."""

    audio: np.ndarray
    snr_db: float
    speech_gain: float
    background_gain: float
    headroom_gain: float
    onset_s: float
    speech_s: float


def mix_at_snr(
    speech: np.ndarray, background: np.ndarray, snr_db: float, onset: int, *, sample_rate: int = MIX_RATE
) -> Mixture:
    """Place ``speech`` at sample ``onset`` of ``background`` and scale the background to ``snr_db``.

    Raises:
        MixError: the speech does not fit, is silent (no finite SNR can be set), or the
            background is silent under the speech at a finite SNR.
    """
    speech = np.asarray(speech, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    if onset < 0 or onset + len(speech) > len(background):
        raise MixError(f"speech of {len(speech)} samples at {onset} does not fit in {len(background)} samples")
    span = slice(onset, onset + len(speech))
    ps = float(np.mean(np.square(speech))) if len(speech) else 0.0
    pb = float(np.mean(np.square(background[span]))) if len(speech) else 0.0
    if snr_db == -math.inf:
        g_s, g_b = 0.0, 1.0
    elif ps == 0:
        raise MixError("the speech clip is silent: no SNR can be set")
    elif snr_db == math.inf:
        g_s, g_b = 1.0, 0.0
    elif pb == 0:
        raise MixError("the background is silent under the speech: no finite SNR can be set")
    else:
        g_s, g_b = 1.0, math.sqrt(ps / (pb * 10.0 ** (snr_db / 10.0)))
    out = g_b * background
    out[span] += g_s * speech
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    headroom = PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0
    return Mixture(
        (out * headroom).astype(np.float32), snr_db, g_s, g_b, headroom, onset / sample_rate, len(speech) / sample_rate
    )


def read_window(
    path: str | Path, start_s: float, seconds: float, sample_rate: int = MIX_RATE
) -> tuple[np.ndarray, bool]:
    """``seconds`` of ``path`` from ``start_s``, channel 0, at ``sample_rate``; reads only those frames.

    Returns:
        The window and whether the file had to be repeated to fill it (it was shorter).

    Raises:
        AudioError: a missing or undecodable file (names it).
    """
    try:
        info = sf.info(str(path))
        rate, frames = info.samplerate, info.frames
        want = int(round(seconds * rate))
        start = min(int(round(start_s * rate)), max(0, frames - want))
        x, _ = sf.read(str(path), start=start, stop=min(frames, start + want), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    x = x[:, 0]
    looped = len(x) < want
    if looped:
        if not len(x):
            raise AudioError(f"{path}: no audio frames")
        x = np.tile(x, int(np.ceil(want / len(x))))[:want]
    return resample(x, rate, sample_rate), looped
