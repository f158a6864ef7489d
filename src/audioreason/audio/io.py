"""Audio loading: decode, keep channel 0, resample to the model's rate."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file."""


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read ``path`` as float32 mono at ``sample_rate`` (channel 0, polyphase resampling).

    Raises:
        AudioError: missing or undecodable file.
    """
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioError(f"{path}: cannot decode audio ({e})") from e
    return resample(x[:, 0], sr, sample_rate)


def resample(x: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """``x`` ``[samples]`` at ``rate`` Hz as float32 at ``to_rate`` Hz (polyphase); unchanged when equal."""
    if rate == to_rate:
        return x
    g = gcd(rate, to_rate)
    return resample_poly(x, to_rate // g, rate // g).astype(np.float32)
