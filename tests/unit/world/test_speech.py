"""Tests of the procedural speech synthesiser: words, sentences, speakers, emotions, speed.

The emotion and gender tests measure the audio with openSMILE eGeMAPSv02 functionals, the
features paper 04 turns into concept tokens, on the same speakers, words and seeds across
classes, so only the emotion (or gender) differs.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest

from audioreason.world.speech import (
    EMOTION_CODES,
    EMOTIONS,
    LEXICON,
    VOWELS,
    Emotion,
    Speaker,
    Syllable,
    make_speaker,
    random_sentence,
    speak,
    transcript,
    word_syllables,
)

SR = 16_000
SENTENCES = (
    ("please", "call", "stella"),
    ("the", "dog", "ran", "home"),
    ("six", "spoons", "of", "fresh", "snow", "peas"),
    ("we", "also", "need", "a", "small", "plastic", "snake"),
)


@pytest.fixture(scope="module")
def speakers() -> list[Speaker]:
    rng = np.random.default_rng(7)
    return [make_speaker(rng, f"spk{i}", "FM"[i % 2]) for i in range(6)]


@pytest.fixture(scope="module")
def smile():
    opensmile = pytest.importorskip("opensmile")
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )


def _say(words, speaker, emotion="neutral", seed=0) -> np.ndarray:
    return speak(np.random.default_rng(seed), SR, words, speaker, emotion)


# --------------------------------------------------------------------------- words


def test_lexicon_is_sixty_distinct_lowercase_words():
    assert 50 <= len(LEXICON) <= 70
    assert len(set(LEXICON)) == len(LEXICON)
    assert all(w.isalpha() and w == w.lower() for w in LEXICON)
    for sentence in SENTENCES:
        assert set(sentence) <= set(LEXICON)


def test_lexicon_words_map_to_distinct_syllable_sequences():
    patterns = {w: word_syllables(w) for w in LEXICON}
    assert all(1 <= len(p) <= 3 for p in patterns.values())
    clashes = [(a, b) for a, b in itertools.combinations(LEXICON, 2) if patterns[a] == patterns[b]]
    assert clashes == []


def test_word_syllables_is_pinned_and_follows_spelling():
    # Pinned values: Python's salted hash() or a changed table would alter every dataset.
    assert word_syllables("dog") == (Syllable("p", "u"),)
    assert word_syllables("stella") == (Syllable("", "i"), Syllable("k", "i"))
    assert word_syllables("zebra") == (Syllable("t", "i"), Syllable("t", "a"))
    assert word_syllables("dog") == word_syllables("dog")
    assert [len(word_syllables(w)) for w in ("wednesday", "station", "please", "home")] == [3, 2, 1, 1]
    assert len(word_syllables("antidisestablishmentarianism")) == 3


def test_random_sentence_draws_lexicon_words_and_is_seeded():
    lengths = set()
    for seed in range(20):
        words = random_sentence(np.random.default_rng(seed), 2, 4)
        assert set(words) <= set(LEXICON) and words == random_sentence(np.random.default_rng(seed), 2, 4)
        lengths.add(len(words))
    assert lengths == {2, 3, 4}
    assert transcript(["the", "dog", "ran", "home"]) == "The dog ran home."


@pytest.mark.parametrize("bad", ["", "Dog", "two words"])
def test_word_syllables_rejects_non_words(bad):
    with pytest.raises(ValueError):
        word_syllables(bad)


def test_syllable_parts_are_validated():
    assert Syllable("s", "i").onset_kind == "fricative"
    assert Syllable("m", "a").onset_kind == "nasal"
    assert Syllable("k", "a").onset_kind == "plosive"
    assert Syllable("", "u").formants_hz == VOWELS["u"][:2]
    with pytest.raises(ValueError):
        Syllable("zz", "a")
    with pytest.raises(ValueError):
        Syllable("s", "y")


# --------------------------------------------------------------------------- speakers and profiles


def test_make_speaker_draws_gendered_voices():
    rng = np.random.default_rng(0)
    men = [make_speaker(rng, f"m{i}", "M") for i in range(40)]
    women = [make_speaker(rng, f"f{i}", "F") for i in range(40)]
    assert all(85 <= s.f0_hz <= 155 for s in men)
    assert all(165 <= s.f0_hz <= 255 for s in women)
    assert max(s.formant_scale for s in men) < min(s.formant_scale for s in women)
    assert np.std([s.rate_syll_per_s for s in men + women]) > 0.2
    assert np.std([s.breathiness for s in men + women]) > 0.02
    with pytest.raises(ValueError):
        make_speaker(rng, "x", "X")


def test_profiles_and_dataclasses_are_validated():
    with pytest.raises(ValueError):
        Speaker("s", "F", f0_hz=20.0, formant_scale=1.15, rate_syll_per_s=4.0, breathiness=0.1)
    with pytest.raises(ValueError):
        dataclasses.replace(EMOTIONS["neutral"], jitter=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        EMOTIONS["neutral"].energy_db = 3.0  # type: ignore[misc]
    assert isinstance(EMOTIONS["angry"], Emotion)


def test_emotion_codes_cover_iemocap_and_fau_aibo():
    iemocap = {"neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx"}
    fau = {"A", "E", "N", "P", "R"}
    assert set(EMOTION_CODES) == iemocap | fau
    assert set(EMOTION_CODES.values()) <= set(EMOTIONS)
    assert EMOTION_CODES["ang"] == "angry" and EMOTION_CODES["E"] == "emphatic" and EMOTION_CODES["N"] == "neutral"


def test_profile_directions_follow_the_literature():
    e = EMOTIONS
    for aroused in ("angry", "excited", "happy", "anger"):
        assert e[aroused].pitch_shift_st > e["neutral"].pitch_shift_st > e["sad"].pitch_shift_st
        assert e[aroused].pitch_range_st > e["neutral"].pitch_range_st > e["sad"].pitch_range_st
        assert e[aroused].energy_db > e["neutral"].energy_db > e["sad"].energy_db
        assert e[aroused].rate_scale > e["sad"].rate_scale
        assert e[aroused].tilt_db_per_oct > e["neutral"].tilt_db_per_oct > e["sad"].tilt_db_per_oct
    assert e["sad"].breathiness > e["neutral"].breathiness and e["sad"].creak > e["neutral"].creak
    assert (
        e["emphatic"].energy_db > 0
        and e["emphatic"].rate_scale < 1
        and e["emphatic"].stress == max(p.stress for p in e.values())
    )


# --------------------------------------------------------------------------- waveform properties


def test_speak_is_deterministic(speakers):
    a = _say(SENTENCES[1], speakers[0], "happy", seed=3)
    b = _say(SENTENCES[1], speakers[0], "happy", seed=3)
    c = _say(SENTENCES[1], speakers[0], "happy", seed=4)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)


def test_codes_and_names_give_the_same_voice(speakers):
    assert np.array_equal(_say(SENTENCES[0], speakers[1], "ang"), _say(SENTENCES[0], speakers[1], "angry"))
    assert np.array_equal(_say(SENTENCES[0], speakers[1], "N"), _say(SENTENCES[0], speakers[1], "neutral"))


@pytest.mark.parametrize("emotion", sorted(set(EMOTIONS) | set(EMOTION_CODES)))
def test_output_is_finite_bounded_padded_and_not_silent(speakers, emotion):
    x = _say(SENTENCES[3], speakers[2], emotion, seed=11)
    assert x.dtype == np.float32 and x.ndim == 1
    assert np.isfinite(x).all()
    assert np.abs(x).max() <= 0.99
    assert np.sqrt(np.mean(x**2)) > 1e-3
    lead, trail = int(0.045 * SR), int(0.015 * SR)
    assert np.abs(x[:lead]).max() < 1e-3 * np.abs(x).max()
    assert np.abs(x[-trail:]).max() < 1e-2 * np.abs(x).max()


def test_loudest_emotion_reaches_the_peak_cap_without_clipping(speakers):
    x = speak(np.random.default_rng(0), SR, list(LEXICON)[:20], speakers[0], "angry")
    assert 0.3 < np.abs(x).max() <= 0.98
    assert np.mean(np.abs(x) > 0.97) < 1e-3  # not a clipped plateau


def test_different_words_give_different_audio(speakers):
    a = _say(("the", "dog"), speakers[0], seed=5)
    b = _say(("the", "cat"), speakers[0], seed=5)
    n = min(len(a), len(b))
    assert not np.allclose(a[:n], b[:n], atol=1e-3)


def _band_ratio_db(x: np.ndarray, lo: tuple[float, float], hi: tuple[float, float], nuclei: bool = False) -> float:
    """Energy in band ``hi`` over band ``lo`` (Hz), in dB; ``nuclei``: loudest frames only."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 512)[::256] * np.hanning(512)  # [frames, 512]
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    if nuclei:
        energy = spec.sum(axis=1)
        spec = spec[energy > 0.1 * energy.max()]
    spec = spec.mean(axis=0)
    f = np.fft.rfftfreq(512, 1 / SR)
    return float(10 * np.log10(spec[(f >= hi[0]) & (f < hi[1])].sum() / spec[(f >= lo[0]) & (f < lo[1])].sum()))


def test_vowels_are_audible_in_the_spectrum(speakers):
    # Words spoken only with /i/ (F2 ~2.3 kHz) vs only with /u/ or /o/ (F2 < 0.9 kHz).
    front = [w for w in LEXICON if all(s.vowel == "i" for s in word_syllables(w))]
    back = [w for w in LEXICON if all(s.vowel in "uo" for s in word_syllables(w))]
    assert len(front) >= 3 and len(back) >= 3
    for speaker in speakers[:2]:
        ratio_front = _band_ratio_db(_say(front, speaker), (100, 1200), (1800, 3200), nuclei=True)
        ratio_back = _band_ratio_db(_say(back, speaker), (100, 1200), (1800, 3200), nuclei=True)
        assert ratio_front > ratio_back + 10.0


def test_fricative_onsets_add_high_frequency_noise(speakers):
    with_s = [w for w in LEXICON if word_syllables(w)[0].onset == "s"]
    without = [w for w in LEXICON if all(s.onset_kind in ("none", "nasal") for s in word_syllables(w))]
    assert with_s and without
    high = _band_ratio_db(_say(with_s, speakers[1]), (100, 3000), (4000, 7500))
    low = _band_ratio_db(_say(without, speakers[1]), (100, 3000), (4000, 7500))
    assert high > low + 10.0


def test_duration_grows_with_words_and_shrinks_with_rate(speakers):
    spk = speakers[0]
    lengths = [len(_say(LEXICON[:k], spk)) for k in (2, 4, 8, 16)]
    assert lengths == sorted(lengths) and lengths[-1] > 4 * lengths[0] * 0.8
    fast = dataclasses.replace(spk, rate_syll_per_s=1.5 * spk.rate_syll_per_s)
    assert len(_say(LEXICON[:16], fast)) < 0.8 * lengths[-1]
    assert len(_say(LEXICON[:16], spk, "excited")) < 0.75 * len(_say(LEXICON[:16], spk, "sad"))
    assert len(_say(LEXICON[:16], spk, "emphatic")) > 1.15 * lengths[-1]


def test_speak_rejects_bad_input(speakers):
    with pytest.raises(ValueError):
        _say([], speakers[0])
    with pytest.raises(ValueError):
        _say(["dog"], speakers[0], "bored")
    with pytest.raises(ValueError):
        speak(np.random.default_rng(0), 4000, ["dog"], speakers[0])


def test_one_second_takes_under_15_ms(speakers):
    words = list(LEXICON[:12])
    speak(np.random.default_rng(0), SR, words, speakers[0])  # warm caches
    ms_per_s = []
    for seed in range(5):
        start = time.perf_counter()
        x = speak(np.random.default_rng(seed), SR, words, speakers[0], "angry")
        ms_per_s.append(1000 * (time.perf_counter() - start) / (len(x) / SR))
    assert min(ms_per_s) < 15.0


# --------------------------------------------------------------------------- eGeMAPS


def test_female_f0_is_above_male_f0(speakers, smile):
    f0 = {"F": [], "M": []}
    for spk in speakers:
        x = _say(SENTENCES[1], spk, seed=1)
        f0[spk.gender].append(float(smile.process_signal(x, SR)["F0semitoneFrom27.5Hz_sma3nz_amean"].iloc[0]))
    assert np.median(f0["F"]) > np.median(f0["M"]) + 5.0  # semitones
    assert min(f0["F"]) > max(f0["M"])


@pytest.fixture(scope="module")
def emotion_features(speakers, smile) -> dict[str, dict[str, float]]:
    """Mean eGeMAPS functionals per emotion over 4 speakers x 4 sentences, same seeds."""
    out = {}
    for emotion in ("angry", "excited", "neutral", "sad", "emphatic"):
        frames = [
            smile.process_signal(_say(sentence, spk, emotion, seed=10 + i), SR)
            for i, (sentence, spk) in enumerate(zip(SENTENCES, speakers))
        ]
        out[emotion] = {k: float(np.mean([f[k].iloc[0] for f in frames])) for k in frames[0].columns}
    return out


def test_angry_is_louder_than_neutral_louder_than_sad(emotion_features):
    loud = {e: f["loudness_sma3_amean"] for e, f in emotion_features.items()}
    assert loud["angry"] > 1.5 * loud["neutral"] > 1.5 * 1.2 * loud["sad"]
    assert loud["emphatic"] > 1.2 * loud["neutral"]


def test_angry_is_higher_pitched_than_sad(emotion_features):
    f0 = {e: f["F0semitoneFrom27.5Hz_sma3nz_amean"] for e, f in emotion_features.items()}
    assert f0["angry"] > f0["neutral"] + 2.0 > f0["sad"] + 3.0


def test_angry_is_brighter_than_sad(emotion_features):
    angry, neutral, sad = (emotion_features[e] for e in ("angry", "neutral", "sad"))
    assert angry["alphaRatioV_sma3nz_amean"] > neutral["alphaRatioV_sma3nz_amean"] + 3.0
    assert angry["alphaRatioV_sma3nz_amean"] > sad["alphaRatioV_sma3nz_amean"] + 5.0
    assert angry["hammarbergIndexV_sma3nz_amean"] < sad["hammarbergIndexV_sma3nz_amean"] - 5.0


def test_sad_voice_is_noisier_and_less_regular_than_neutral(emotion_features):
    neutral, sad = emotion_features["neutral"], emotion_features["sad"]
    assert sad["HNRdBACF_sma3nz_amean"] < neutral["HNRdBACF_sma3nz_amean"] - 3.0
    assert sad["jitterLocal_sma3nz_amean"] > neutral["jitterLocal_sma3nz_amean"]
    assert sad["shimmerLocaldB_sma3nz_amean"] > neutral["shimmerLocaldB_sma3nz_amean"] + 0.3


def test_excited_is_faster_and_more_dynamic_than_sad(emotion_features):
    excited, sad = emotion_features["excited"], emotion_features["sad"]
    assert excited["loudnessPeaksPerSec"] > 1.25 * sad["loudnessPeaksPerSec"]
    assert excited["spectralFlux_sma3_amean"] > 1.5 * sad["spectralFlux_sma3_amean"]
