"""openSMILE eGeMAPSv02 features and their concept tokens, on synthetic tones of known pitch and loudness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from audioreason.audio.egemaps import (
    CONCEPT_COLUMNS,
    F0_COLUMN,
    LOUDNESS_COLUMN,
    SAMPLE_RATE,
    USED_COLUMNS,
    extract_features,
    file_means,
    lld_frames,
    utterance_features,
)
from audioreason.features.concept_tokens import ConceptTokenizer

SR = SAMPLE_RATE


def tone(f0: float, amplitude: float, seconds: float = 1.0, tilt: float = 1.0, seed: int = 0) -> np.ndarray:
    """A harmonic complex (harmonics below 4 kHz, amplitude ~ 1/k**tilt; smaller tilt = brighter),
    peak-normalised to ``amplitude``, with a little vibrato so it is not perfectly periodic."""
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * f0 * t + 0.02 * np.sin(2 * np.pi * 5 * t + rng.uniform(0, 6))
    x = sum(k**-tilt * np.sin(k * phase) for k in range(1, int(4000 / f0)))
    return (amplitude * x / np.abs(x).max()).astype(np.float32)


def means(x: np.ndarray) -> dict[str, float]:
    frames, columns = lld_frames(x, SR)
    return file_means(frames, columns)


@pytest.mark.parametrize("f0", [110.0, 196.0, 262.0])
def test_f0_in_semitones_matches_the_tone(f0):
    m = means(tone(f0, 0.3))
    assert m[F0_COLUMN] == pytest.approx(12 * math.log2(f0 / 27.5), abs=0.5)  # semitones from 27.5 Hz
    assert m["voiced_fraction"] > 0.8 and m["silent"] == 0.0


def test_louder_tone_means_more_loudness_and_a_higher_energy_bin():
    loudness = [means(tone(150, a))[LOUDNESS_COLUMN] for a in (0.02, 0.1, 0.5)]
    assert loudness[0] < loudness[1] < loudness[2]
    # Fit on a "training split" of tones of many levels and pitches; a quiet and a loud test tone.
    train = [
        means(tone(f, a, 0.6, seed=i))
        for i, (f, a) in enumerate((f, a) for f in (120, 180, 240) for a in (0.02, 0.05, 0.1, 0.2, 0.4))
    ]
    tok = ConceptTokenizer().fit(train)
    _, quiet = tok.tokens(means(tone(150, 0.03)))
    _, loud = tok.tokens(means(tone(150, 0.45)))
    order = ("VERY_LOW", "LOW", "MID", "HIGH", "VERY_HIGH")
    assert order.index(loud["ENERGY"]) > order.index(quiet["ENERGY"])
    assert loud["ENERGY"] in ("HIGH", "VERY_HIGH") and quiet["ENERGY"] in ("VERY_LOW", "LOW")
    # Pitch bins follow F0 the same way.
    _, low = tok.tokens(means(tone(115, 0.1)))
    _, high = tok.tokens(means(tone(250, 0.1)))
    assert low["PITCH"] == "VERY_LOW" and high["PITCH"] == "VERY_HIGH"


def test_brightness_columns_move_the_documented_way():
    dark, bright = means(tone(150, 0.3, tilt=2.0)), means(tone(150, 0.3, tilt=0.5))
    for column, sign in CONCEPT_COLUMNS["BRIGHTNESS"]:
        assert sign * (bright[column] - dark[column]) > 0, column


def test_silence_and_too_short_clips_give_documented_values():
    silent = means(np.zeros(SR, dtype=np.float32))
    assert silent["silent"] == 1.0 and silent["voiced_fraction"] == 0.0
    assert math.isfinite(silent[LOUDNESS_COLUMN])  # it is quiet: that is a measurement
    assert all(math.isnan(silent[c]) for c in USED_COLUMNS if c != LOUDNESS_COLUMN)
    short = means(tone(150, 0.3, seconds=0.04))  # shorter than one analysis window
    assert short["n_frames"] == 0 and all(math.isnan(short[c]) for c in USED_COLUMNS)
    noise = means(np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32))
    assert math.isnan(noise[F0_COLUMN]) and noise["voiced_fraction"] == 0.0 and noise["silent"] == 0.0
    # openSMILE writes formant estimates on unvoiced frames too; they are not averaged in.
    assert all(math.isnan(noise[f"F{i}frequency_sma3nz"]) for i in (1, 2, 3))
    half = means(np.r_[tone(150, 0.3), np.random.default_rng(1).normal(0, 0.1, SR).astype(np.float32)])
    voiced_only = means(tone(150, 0.3))
    assert half["F1frequency_sma3nz"] == pytest.approx(voiced_only["F1frequency_sma3nz"], rel=0.05)
    # Their tokens: nothing crashes, undefined concepts say so, no voicing is UNVOICED.
    tok = ConceptTokenizer(grouped=("PITCH",)).fit(
        [means(tone(f, a, 0.5)) for f in (120, 200) for a in (0.05, 0.3)], ["M", "F", "M", "F"]
    )
    _, t = tok.tokens(silent, "F")
    assert t == {
        "ENERGY": "VERY_LOW",
        "PITCH": "UNDEFINED",
        "BRIGHTNESS": "UNDEFINED",
        "DYNAMICS": "UNDEFINED",
        "FORMANTS": "UNDEFINED",
        "VOICE_QUALITY": "UNVOICED",
    }
    _, t = tok.tokens(short, "M")
    assert set(t.values()) == {"UNDEFINED", "UNVOICED"}


def test_extraction_over_processes_equals_one_process(tmp_path):
    paths = []
    for i, f0 in enumerate((110, 150, 200, 260)):
        p = tmp_path / f"u{i}.wav"
        sf.write(p, tone(f0, 0.2, 0.5), SR)
        paths.append(p)
    one, speed1 = extract_features(paths, workers=1, progress=False)
    two, speed2 = extract_features(paths, workers=2, progress=False)
    assert [r[F0_COLUMN] for r in one] == [r[F0_COLUMN] for r in two]
    assert one[2] == utterance_features(paths[2])
    assert speed1.files == speed2.files == 4 and speed1.audio_s == pytest.approx(2.0)
    assert speed1.files_per_s > 0 and 0 < speed1.real_time_factor < 1
    with pytest.raises(Exception, match="missing.wav"):
        utterance_features(tmp_path / "missing.wav")
