"""The overlap fingerprint: survives re-encoding, separates different clips, matches fast."""

from __future__ import annotations

import io
from math import gcd

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from audioreason.quality.fingerprint import N_BITS, audio_fingerprint, bit_error_rates, match_fingerprints

SR = 32_000
THRESHOLD = 0.1  # the proposed validate.fingerprint.max_bit_error_rate


def _bark(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A short harmonic burst with a falling pitch and a noisy onset (one 'dog bark')."""
    t = np.arange(int(0.22 * sr)) / sr
    f0 = 450.0 * rng.uniform(0.9, 1.1) * np.linspace(1.15, 0.85, len(t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(a * np.sin((k + 1) * phase) for k, a in enumerate([1.0, 0.8, 0.6, 0.4]))
    x = x + 0.5 * rng.standard_normal(len(t))
    return x * np.exp(-t / 0.06)


def _hum(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A 0.8 s buzzing hum (an 'electric shaver')."""
    t = np.arange(int(0.8 * sr)) / sr
    return np.sign(np.sin(2 * np.pi * 110.0 * rng.uniform(0.95, 1.05) * t)) * np.hanning(len(t)) ** 0.2


def scene(seed: int, cls: str, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    """A clip of one sound class at random times over a quiet noise bed, peak -6 dBFS."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal(int(seconds * sr))
    for _ in range(int(rng.integers(1, 4))):
        event = _bark(rng, sr) if cls == "bark" else _hum(rng, sr)
        start = int(rng.uniform(0, len(x) - len(event)))
        x[start : start + len(event)] += 0.6 * event
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def reencode(
    x: np.ndarray,
    sr: int,
    *,
    new_sr: int | None = None,
    gain_db: float = 0.0,
    subtype: str = "PCM_16",
    lead_ms: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Resample, change level, prepend silence, and write/read through a WAV of ``subtype``."""
    y = x.astype(np.float64) * 10 ** (gain_db / 20)
    if new_sr and new_sr != sr:
        g = gcd(sr, new_sr)
        y, sr = resample_poly(y, new_sr // g, sr // g), new_sr
    if lead_ms:
        y = np.concatenate([np.zeros(int(sr * lead_ms / 1000)), y])
    buf = io.BytesIO()
    sf.write(buf, y, sr, subtype=subtype, format="WAV")
    buf.seek(0)
    data, sr = sf.read(buf, dtype="float32", always_2d=True)
    return data, sr


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    return [scene(seed, "bark" if seed % 2 else "hum") for seed in range(24)]


@pytest.mark.parametrize(
    "change",
    [
        dict(new_sr=16_000),
        dict(new_sr=22_050, subtype="PCM_24"),
        dict(new_sr=44_100),
        dict(new_sr=48_000, gain_db=-6.0),
        dict(gain_db=6.0),  # peak -6 dBFS + 6 dB: loud but not clipped
        dict(subtype="FLOAT", gain_db=-3.0),
        dict(lead_ms=5.0),
        dict(lead_ms=20.0, new_sr=16_000, gain_db=-6.0),
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
def test_reencoded_copy_matches(clips, change):
    bers = []
    for x in clips[:8]:
        original = audio_fingerprint(x, SR)
        copy = audio_fingerprint(*reencode(x, SR, **change))
        bers.append(original.bit_error_rate(copy))
    assert max(bers) <= 0.06, bers
    assert np.mean(bers) <= 0.02


def test_different_clips_of_the_same_class_do_not_collide(clips):
    fps = [audio_fingerprint(x, SR) for x in clips]
    ber, compared = bit_error_rates(fps, fps)
    off_diagonal = ber[~np.eye(len(fps), dtype=bool)]
    assert off_diagonal.min() > 2 * THRESHOLD
    assert 0.4 < off_diagonal.mean() < 0.6
    # 70% of the bits are reliable in each fingerprint: about half are compared between two clips.
    assert (compared >= 0.4 * N_BITS).all()
    assert match_fingerprints(fps, fps[::-1], max_bit_error_rate=THRESHOLD, min_compared_bits=256) == [
        (i, len(fps) - 1 - i, 0.0) for i in range(len(fps))
    ]


def test_fingerprint_is_fixed_length_and_deterministic(clips):
    a, b = audio_fingerprint(clips[0], SR), audio_fingerprint(clips[0].copy(), SR)
    assert a.bits.shape == a.mask.shape == (N_BITS // 64,)
    assert a.bits.dtype == np.uint64
    assert np.array_equal(a.bits, b.bits) and np.array_equal(a.mask, b.mask)
    assert a.duration_s == pytest.approx(2.0, abs=0.01)


def test_leading_silence_is_trimmed_from_the_duration(clips):
    copy = audio_fingerprint(*reencode(clips[1], SR, lead_ms=50.0))
    assert copy.duration_s == pytest.approx(audio_fingerprint(clips[1], SR).duration_s, abs=0.002)


def test_silent_or_empty_audio_has_no_fingerprint():
    assert audio_fingerprint(np.zeros(SR, np.float32), SR) is None
    assert audio_fingerprint(np.zeros(0, np.float32), SR) is None
    assert audio_fingerprint(np.full(SR, np.nan, np.float32), SR) is None


def test_stereo_and_very_short_audio():
    x = (0.1 * np.random.default_rng(0).standard_normal(int(0.02 * SR))).astype(np.float32)  # < one 32 ms frame
    assert audio_fingerprint(np.stack([x, x], axis=1), SR) is not None


def test_match_agrees_with_the_all_pairs_reference(clips):
    train = [audio_fingerprint(x, SR) for x in clips[:12]]
    evals = [audio_fingerprint(*reencode(x, SR, new_sr=16_000)) for x in clips[8:]] + [None]
    ber, compared = bit_error_rates(train, evals[:-1])
    expected = sorted((i, j, float(ber[i, j])) for i, j in zip(*np.nonzero((ber <= THRESHOLD) & (compared >= 256))))
    got = match_fingerprints(train, evals, max_bit_error_rate=THRESHOLD, min_compared_bits=256, block=5)
    assert got == expected
    assert [(i, j) for i, j, _ in got] == [(8, 0), (9, 1), (10, 2), (11, 3)]


def test_clips_of_different_length_are_not_compared(clips):
    whole = audio_fingerprint(clips[2], SR)
    half = audio_fingerprint(clips[2][:SR], SR)
    assert match_fingerprints([whole], [half], max_bit_error_rate=0.49, min_compared_bits=1) == []
    assert match_fingerprints([whole], [whole], max_bit_error_rate=THRESHOLD, min_compared_bits=1) == [(0, 0, 0.0)]


def test_thousands_of_fingerprints_match_in_seconds(clips):
    import time

    base = [audio_fingerprint(x, SR) for x in clips]
    many = [base[i % len(base)] for i in range(3000)]
    start = time.perf_counter()
    matches = match_fingerprints(many[:2000], many[2000:], max_bit_error_rate=THRESHOLD, min_compared_bits=256)
    assert time.perf_counter() - start < 10.0  # 2M pairs; about 0.4 s on 2 cores
    assert len(matches) == sum(1 for i in range(2000) for j in range(2000, 3000) if i % 24 == j % 24)
