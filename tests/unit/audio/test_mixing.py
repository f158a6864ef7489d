"""SSEU-Bench mixing (paper 05 §2.1): the SNR over the speech's samples, purity at +-inf, no clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from audioreason.audio.mixing import (
    MIX_RATE,
    PEAK_LIMIT,
    SNR_LEVELS,
    MixError,
    measured_snr,
    mix_at_snr,
    read_window,
    snr_key,
)

SR = MIX_RATE


def speech_like(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    env = 0.5 * (1 - np.cos(2 * np.pi * 3 * t))  # syllable-like bursts
    return 0.3 * env * np.sin(2 * np.pi * 180 * t) + 0.01 * np.random.default_rng(seed).normal(size=t.size)


def noise(seconds: float = 4.0, level: float = 0.2, seed: int = 1) -> np.ndarray:
    return level * np.random.default_rng(seed).normal(size=int(SR * seconds))


@pytest.mark.parametrize("snr", [10.0, 5.0, 0.0, -5.0, -10.0])
def test_measured_snr_over_the_speech_equals_the_target(snr):
    s, b = speech_like(), noise()
    onset = int(0.8 * SR)
    m = mix_at_snr(s, b, snr, onset)
    span = slice(onset, onset + len(s))
    # Undo the common headroom gain; the two sources are known separately.
    placed_speech = m.headroom_gain * m.speech_gain * s
    placed_background = m.headroom_gain * m.background_gain * b[span]
    assert measured_snr(placed_speech, placed_background) == pytest.approx(snr, abs=0.1)
    np.testing.assert_allclose(m.audio[span], (placed_speech + placed_background).astype(np.float32), atol=1e-6)
    assert np.max(np.abs(m.audio)) <= PEAK_LIMIT + 1e-6


def test_infinite_snrs_are_pure():
    s, b = speech_like(), noise()
    onset = 1000
    only_speech = mix_at_snr(s, b, math.inf, onset)
    assert only_speech.background_gain == 0.0
    assert not np.any(only_speech.audio[:onset]) and not np.any(only_speech.audio[onset + len(s) :])
    np.testing.assert_allclose(
        only_speech.audio[onset : onset + len(s)], s.astype(np.float32) * only_speech.headroom_gain, atol=1e-7
    )
    only_background = mix_at_snr(s, b, -math.inf, onset)
    assert only_background.speech_gain == 0.0
    np.testing.assert_allclose(only_background.audio, (b * only_background.headroom_gain).astype(np.float32), atol=1e-7)


def test_loud_sources_are_scaled_together_never_clipped():
    s, b = 4 * speech_like(), noise(level=0.9)
    m = mix_at_snr(s, b, 0.0, 0)
    assert m.headroom_gain < 1 and np.max(np.abs(m.audio)) == pytest.approx(PEAK_LIMIT, rel=1e-5)
    span = slice(0, len(s))
    assert measured_snr(m.speech_gain * s, m.background_gain * b[span]) == pytest.approx(0.0, abs=1e-6)


def test_same_inputs_same_mixture_and_bad_inputs_are_errors():
    s, b = speech_like(), noise()
    a1, a2 = mix_at_snr(s, b, 5.0, 123).audio, mix_at_snr(s, b, 5.0, 123).audio
    assert a1.tobytes() == a2.tobytes()
    with pytest.raises(MixError, match="speech clip is silent"):
        mix_at_snr(np.zeros(1000), b, 5.0, 0)
    with pytest.raises(MixError, match="background is silent under the speech"):
        mix_at_snr(s, np.zeros(len(b)), 5.0, 0)
    with pytest.raises(MixError, match="does not fit"):
        mix_at_snr(s, b[:100], 5.0, 0)
    # A silent speech clip still makes the background-only condition.
    assert mix_at_snr(np.zeros(1000), b, -math.inf, 0).speech_gain == 0.0


def test_snr_keys_follow_the_tables():
    assert [snr_key(s) for s in SNR_LEVELS] == ["snr_inf", "snr_10", "snr_5", "snr_0", "snr_m5", "snr_m10", "snr_minf"]


def test_read_window_reads_a_slice_resamples_and_loops_short_files(tmp_path):
    path = tmp_path / "bg.wav"
    x = np.arange(16000 * 3, dtype=np.float32) / (16000 * 3)  # a 3 s ramp at 16 kHz
    sf.write(path, x, 16000, subtype="FLOAT")
    w, looped = read_window(path, 1.0, 1.0)
    assert not looped and len(w) == SR and w[len(w) // 2] == pytest.approx(1.5 / 3, abs=0.01)
    w, looped = read_window(path, 0.0, 5.0)  # longer than the file
    assert looped and len(w) == 5 * SR
    with pytest.raises(Exception, match="missing.wav"):
        read_window(tmp_path / "missing.wav", 0.0, 1.0)
