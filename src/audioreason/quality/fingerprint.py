"""Audio fingerprints that survive re-encoding, and fast matching by Hamming distance.

Design (in the spirit of Haitsma & Kalker's binary fingerprints, fixed-length so that
thousands of clips compare in one vectorised pass):

1. Mix to mono, resample to 8 kHz (:data:`RATE`): the source rate (16, 32, 44.1, 48 kHz)
   and anything above 4 kHz stop mattering.
2. Trim leading samples below -60 dB relative to the peak: digital silence (or near
   silence) added in front of a copy no longer shifts the analysis grid.
3. STFT (32 ms Hann frames, 8 ms hop); energy in :data:`N_BANDS` log-spaced bands
   between 150 Hz and 3.7 kHz.
4. Pool the frames into :data:`N_SEGMENTS` equal time segments of the trimmed clip by
   interpolating the cumulative energy, so a length change of a few samples moves the
   segment edges continuously instead of by a whole frame.
5. Bits: the sign of the time difference of the frequency difference of the log
   energies, ``(L[t,b] - L[t,b+1]) - (L[t-1,b] - L[t-1,b+1]) > 0``: a gain change adds
   a constant to every ``L`` and cancels; bit depth changes move ``L`` by far less than
   the typical difference. 64 x 16 = 1024 bits, packed into 16 ``uint64`` words.
6. Reliability mask: the 30 % of bits whose difference is smallest in magnitude (the ones
   a re-encoding can flip) are masked out; two fingerprints compare only where both are
   reliable.

Two clips match when their bit error rate over the bits reliable in both is at most a
threshold (``validate.fingerprint.max_bit_error_rate``) and enough bits were compared.
Measured on 400 synthetic 2 s clips (tests/unit/quality/test_fingerprint.py checks
the same properties): re-encoded copies (16/22.05/44.1/48 kHz, 16/24-bit or float,
+-6 dB without clipping, 5-50 ms of leading silence) have BER 0.000 on average and
at most 0.06; different clips average 0.50, 99.9 % above 0.33; the closest different
pairs (the same melody notes on the same instrument, differing only in background noise)
sit at 0.14-0.19.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from typing import Sequence

import numpy as np

__all__ = [
    "Fingerprint",
    "N_BITS",
    "RATE",
    "audio_fingerprint",
    "bit_error_rates",
    "match_fingerprints",
]

RATE = 8000
"""Analysis sample rate, Hz."""
N_FFT = 256  # 32 ms at 8 kHz
HOP = 64  # 8 ms
N_BANDS = 17
N_SEGMENTS = 65
N_BITS = (N_SEGMENTS - 1) * (N_BANDS - 1)
"""Bits per fingerprint (1024)."""
WEAK_FRACTION = 0.3
"""Fraction of bits (smallest differences) masked out as unreliable."""
TRIM_DB = -60.0
"""Leading samples below this level relative to the peak are trimmed, dB."""

_EDGES_HZ = np.geomspace(150.0, 3700.0, N_BANDS + 1)
_BAND_BINS = np.searchsorted(np.fft.rfftfreq(N_FFT, 1.0 / RATE), _EDGES_HZ)
_WINDOW = np.hanning(N_FFT).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """A fixed-length binary fingerprint of one clip.

    Attributes:
        bits: ``uint64[N_BITS // 64]``, the packed bits.
        mask: ``uint64[N_BITS // 64]``, 1 where the bit is reliable.
        duration_s: Duration of the clip after trimming leading silence, seconds.
    """

    bits: np.ndarray
    mask: np.ndarray
    duration_s: float

    def bit_error_rate(self, other: "Fingerprint") -> float:
        """Fraction of differing bits among those reliable in both (1.0 when none are)."""
        both = self.mask & other.mask
        n = int(np.bitwise_count(both).sum())
        return float(np.bitwise_count((self.bits ^ other.bits) & both).sum()) / n if n else 1.0


def audio_fingerprint(samples: np.ndarray, sample_rate: int) -> Fingerprint | None:
    """Fingerprint decoded audio.

    Args:
        samples: ``[frames]`` or ``[frames, channels]`` float samples (non-finite values
            count as zero).
        sample_rate: Their sample rate, Hz.

    Returns:
        The :class:`Fingerprint`, or ``None`` for empty or digitally silent audio.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    if x.size == 0 or sample_rate <= 0:
        return None
    x = np.where(np.isfinite(x), x, np.float32(0.0))
    if sample_rate != RATE:
        from scipy.signal import resample_poly

        up, down = _ratio(int(sample_rate))
        x = resample_poly(x, up, down, window=_lowpass(up, down)).astype(np.float32, copy=False)
    level = np.abs(x)
    peak = float(level.max()) if x.size else 0.0
    if not peak > 0.0:
        return None
    x = x[int(np.argmax(level > peak * 10 ** (TRIM_DB / 20))) :]
    duration_s = len(x) / RATE
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    n = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (n, N_FFT), (x.strides[0] * HOP, x.strides[0])) * _WINDOW
    power = np.square(np.abs(np.fft.rfft(frames, axis=1)))  # [frames, bins]
    cum_bins = np.concatenate([np.zeros((n, 1), power.dtype), np.cumsum(power, axis=1)], axis=1)
    energy = (cum_bins[:, _BAND_BINS[1:]] - cum_bins[:, _BAND_BINS[:-1]]).astype(np.float64)  # [frames, bands]

    # Segment edges in (fractional) frames; interpolating the cumulative energy makes the
    # pooled energies continuous in the clip length.
    cum = np.concatenate([np.zeros((1, N_BANDS)), np.cumsum(energy, axis=0)], axis=0)  # [frames + 1, bands]
    span = min(max((len(x) - N_FFT) / HOP + 1, 1.0), float(n))
    edges = np.arange(N_SEGMENTS + 1) * (span / N_SEGMENTS)
    lo = np.minimum(np.floor(edges).astype(int), n - 1)
    at_edges = cum[lo] + (edges - lo)[:, None] * (cum[lo + 1] - cum[lo])
    pooled = np.diff(at_edges, axis=0) / (span / N_SEGMENTS)  # [segments, bands]

    log_energy = np.log(pooled + 1e-6 * pooled.max() + 1e-30)
    slope = log_energy[:, :-1] - log_energy[:, 1:]  # [segments, bands - 1]
    diff = (slope[1:] - slope[:-1]).ravel()  # [N_BITS]
    threshold = max(float(np.quantile(np.abs(diff), WEAK_FRACTION)), 1e-9)
    return Fingerprint(_pack(diff > 0), _pack(np.abs(diff) > threshold), duration_s)


def _ratio(sample_rate: int) -> tuple[int, int]:
    g = gcd(sample_rate, RATE)
    return RATE // g, sample_rate // g


@lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR ``resample_poly`` would design (Kaiser, beta 5), designed once per ratio."""
    from scipy.signal import firwin

    half_len = 10 * max(up, down)
    return firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", 5.0)).astype(np.float32)


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits).view(np.uint64).copy()


def _stack(fps: Sequence[Fingerprint]) -> tuple[np.ndarray, np.ndarray]:
    words = N_BITS // 64
    if not fps:
        return np.zeros((0, words), np.uint64), np.zeros((0, words), np.uint64)
    return np.stack([f.bits for f in fps]), np.stack([f.mask for f in fps])


def bit_error_rates(a: Sequence[Fingerprint], b: Sequence[Fingerprint]) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs bit error rates and compared-bit counts (``[len(a), len(b)]`` each).

    The reference for :func:`match_fingerprints`, which computes the same numbers in
    duration-windowed blocks.
    """
    ab, am = _stack(a)
    bb, bm = _stack(b)
    both = am[:, None, :] & bm[None, :, :]  # [a, b, words]
    n = np.bitwise_count(both).sum(-1, dtype=np.int64)
    errors = np.bitwise_count((ab[:, None, :] ^ bb[None, :, :]) & both).sum(-1, dtype=np.int64)
    return np.where(n > 0, errors / np.maximum(n, 1), 1.0), n


def match_fingerprints(
    a: Sequence[Fingerprint | None],
    b: Sequence[Fingerprint | None],
    *,
    max_bit_error_rate: float,
    min_compared_bits: int,
    duration_tolerance: float = 0.02,
    block: int = 256,
) -> list[tuple[int, int, float]]:
    """Every pair ``(i, j)`` with ``a[i]`` matching ``b[j]``.

    Only pairs whose trimmed durations differ by at most ``duration_tolerance`` (relative,
    plus 20 ms) are compared: a re-encoded copy keeps its duration, and time-normalised
    segments of clips of different lengths do not line up anyway. ``a`` is sorted by
    duration and each block of ``b`` is compared against the duration window it needs,
    with numpy popcounts over packed words (``[rows, block, 16]`` at a time).

    Args:
        a: Fingerprints of one side (``None`` entries never match).
        b: Fingerprints of the other side.
        max_bit_error_rate: Largest bit error rate that counts as the same audio.
        min_compared_bits: Fewest bits reliable in both for a decision.
        duration_tolerance: Relative duration difference allowed.
        block: ``b`` fingerprints compared per step.

    Returns:
        ``[(i, j, bit error rate), ...]`` sorted by ``(i, j)``.
    """
    ia = [i for i, f in enumerate(a) if f is not None]
    ib = [j for j, f in enumerate(b) if f is not None]
    if not ia or not ib:
        return []
    da = np.array([a[i].duration_s for i in ia])
    order = np.argsort(da, kind="stable")
    ia = [ia[k] for k in order]
    da = da[order]
    ab, am = _stack([a[i] for i in ia])
    db = np.array([b[j].duration_s for j in ib])
    border = np.argsort(db, kind="stable")
    ib = [ib[k] for k in border]
    db = db[border]
    bb, bm = _stack([b[j] for j in ib])

    matches: list[tuple[int, int, float]] = []
    # Rows of `a` per step so that one [rows, block, words] uint64 temporary stays ~32 MB.
    rows_per_step = max(1, (32 << 20) // (8 * ab.shape[1] * block))
    for start in range(0, len(ib), block):
        stop = min(start + block, len(ib))
        lo_d = db[start] * (1 - duration_tolerance) - 0.02
        hi_d = db[stop - 1] * (1 + duration_tolerance) + 0.02
        lo, hi = np.searchsorted(da, lo_d, "left"), np.searchsorted(da, hi_d, "right")
        for r0 in range(lo, hi, rows_per_step):
            r1 = min(r0 + rows_per_step, hi)
            both = am[r0:r1, None, :] & bm[None, start:stop, :]
            n = np.bitwise_count(both).sum(-1, dtype=np.int64)
            errors = np.bitwise_count((ab[r0:r1, None, :] ^ bb[None, start:stop, :]) & both).sum(-1, dtype=np.int64)
            ber = errors / np.maximum(n, 1)
            tol = np.maximum(da[r0:r1, None], db[None, start:stop]) * duration_tolerance + 0.02
            close = np.abs(da[r0:r1, None] - db[None, start:stop]) <= tol
            hit = close & (n >= min_compared_bits) & (ber <= max_bit_error_rate)
            for r, c in zip(*np.nonzero(hit)):
                matches.append((ia[r0 + r], ib[start + c], float(ber[r, c])))
    return sorted(matches)
