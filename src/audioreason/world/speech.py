"""Procedural "speech" for the synthetic audio world: speakers, emotions and words.

The IEMOCAP, FAU-Aibo and VCTK stand-ins need speech whose acoustics really differ by
speaker gender, by speaker and by emotion, so that eGeMAPS functionals (openSMILE) and the
six acoustic concept tokens of paper 04 §III (ENERGY, PITCH, BRIGHTNESS, DYNAMICS,
FORMANTS, VOICE_QUALITY) separate the classes, and whose words are audible as distinct
syllable patterns, so that a transcript is in principle recoverable (ASR / WER).

:func:`speak` is a small source-filter synthesiser, vectorised over samples:

- **words**: every word maps deterministically (:func:`word_syllables`) to 1-3 syllables,
  each an onset consonant (none, fricative noise band, plosive closure + burst +
  aspiration, or nasal murmur) followed by one of six vowels (F1/F2/F3 targets);
- **source**: a glottal pulse train placed at sub-sample positions from an F0 contour
  (declination, lexical and emotional accents, final fall), with per-pulse timing jitter
  and amplitude shimmer, creak (halved, irregular F0) where the emotion sets it, and
  pulse-synchronous aspiration noise for breathiness;
- **filter**: a spectral tilt in dB/octave applied in the frequency domain, then a
  cascade of four Klatt resonators per syllable (vowel formants scaled by the speaker's
  vocal-tract ``formant_scale``; F1 rises slightly with vocal effort), a two-resonance
  nasal murmur, and band-limited noise for fricatives and bursts;
- **level**: the active-speech RMS is set to ``-26 dBFS + energy_db`` (plus +-1 dB of
  utterance jitter), so loudness differences between emotions survive at the output; a
  whole-signal gain keeps peaks at or below 0.98 (never clipped).

Emotion profiles follow the speech-emotion literature (Scherer 2003; Banse & Scherer
1996; Juslin & Laukka 2003; Batliner et al. 2008 for FAU-Aibo "emphatic"): high-arousal
emotions are higher, wider in range, louder, faster and brighter (flatter tilt, pressed);
sad is lower, flatter, quieter, slower, darker, breathy and creaky. Shifts are in
semitones (st) relative to the speaker's F0; ``energy_db`` relative to neutral; tilt is
the source slope above ~200 Hz including lip radiation (modal voice ~ -6 dB/oct);
jitter and shimmer are local (period-to-period) perturbations as fractions; stress is
the extra loudness, length and pitch accent given to lexically stressed syllables.

============  =====  =====  ======  =====  ======  ======  =====  =====  =====  ======
emotion       shift  range  energy  rate   tilt    jitter  shim.  breath creak  stress
============  =====  =====  ======  =====  ======  ======  =====  =====  =====  ======
neutral        0.0    2.0    0.0    1.00    -6.0   0.005   0.030  0.00   0.00   0.0
happy         +3.0    4.5   +3.0    1.08    -4.5   0.006   0.035  0.05   0.00   0.2
excited       +5.0    6.0   +6.0    1.22    -3.5   0.007   0.040  0.00   0.00   0.3
sad           -2.5    1.0   -7.0    0.78   -12.0   0.018   0.070  0.35   0.30   0.0
angry         +4.0    5.0   +8.0    1.12    -2.5   0.008   0.050  0.00   0.00   0.4
frustrated    +1.5    3.0   +3.0    0.95    -4.5   0.009   0.050  0.10   0.10   0.3
surprised     +6.0    7.0   +4.0    1.05    -4.5   0.006   0.035  0.10   0.00   0.3
fearful       +5.0    2.5   +1.0    1.15    -6.5   0.015   0.060  0.20   0.00   0.0
disgusted     -1.5    2.5   +1.0    0.85    -6.0   0.010   0.050  0.05   0.20   0.2
other         +0.5    2.5    0.0    1.00    -6.0   0.006   0.035  0.05   0.05   0.1
anger         +3.0    4.0   +6.0    1.05    -3.5   0.008   0.045  0.00   0.00   0.4
emphatic      +1.0    3.0   +5.0    0.78    -4.5   0.006   0.040  0.00   0.00   0.8
positive      +3.0    4.5   +2.0    1.05    -5.0   0.006   0.035  0.10   0.00   0.1
rest          +0.5    2.5   -1.0    1.00    -6.5   0.007   0.040  0.05   0.05   0.0
============  =====  =====  ======  =====  ======  ======  =====  =====  =====  ======

(anger, emphatic, positive, rest are the FAU-Aibo classes; FAU "N" is neutral.) The
IEMOCAP code ``xxx`` (annotators did not agree) maps to neutral: the world labels an
utterance ``xxx`` when its class is withheld, and its acoustics are then unmarked.

Speed: about 2-6 ms of CPU per second of 16 kHz audio (one core), far below real time.

Example::

    rng = np.random.default_rng(0)
    stella = make_speaker(rng, "p225", "F")
    x = speak(rng, 16000, ["please", "call", "stella"], stella, "angry")
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import scipy.fft
import scipy.signal

# --------------------------------------------------------------------------- words

LEXICON: tuple[str, ...] = (
    # The VCTK elicitation paragraph ("Please call Stella ...") and a few extras.
    "please",
    "call",
    "stella",
    "ask",
    "her",
    "to",
    "bring",
    "these",
    "things",
    "with",
    "from",
    "the",
    "store",
    "six",
    "spoons",
    "of",
    "fresh",
    "snow",
    "peas",
    "five",
    "thick",
    "slabs",
    "blue",
    "cheese",
    "and",
    "maybe",
    "a",
    "snack",
    "for",
    "brother",
    "bob",
    "we",
    "also",
    "need",
    "small",
    "plastic",
    "snake",
    "big",
    "toy",
    "frog",
    "kids",
    "she",
    "can",
    "scoop",
    "into",
    "three",
    "red",
    "bags",
    "will",
    "go",
    "meet",
    "wednesday",
    "at",
    "train",
    "station",
    "dog",
    "ran",
    "home",
    "is",
    "it",
)
"""Sixty common lowercase English words; VCTK-like sentences are drawn from them."""

OnsetKind = Literal["none", "fricative", "plosive", "nasal"]


@dataclass(frozen=True)
class Onset:
    """An onset consonant class and its acoustic target.

    Attributes:
        kind: ``"none"``, ``"fricative"`` (noise band), ``"plosive"`` (closure, burst,
            aspiration) or ``"nasal"`` (low voiced murmur).
        lo_hz: Lower edge of the noise band (fricative / burst), or the nasal murmur's
            first resonance, in Hz.
        hi_hz: Upper edge of the noise band, or the nasal's second resonance, in Hz.
        level: RMS of the consonant relative to the vowel's RMS (linear).
    """

    kind: OnsetKind
    lo_hz: float = 0.0
    hi_hz: float = 0.0
    level: float = 0.0


ONSETS: dict[str, Onset] = {
    "": Onset("none"),
    "s": Onset("fricative", 4000.0, 7500.0, 0.35),
    "sh": Onset("fricative", 2000.0, 4500.0, 0.35),
    "f": Onset("fricative", 1000.0, 7000.0, 0.12),
    # /h/ is aspiration noise shaped by the following vowel's formants.
    "h": Onset("fricative", 0.0, 0.0, 0.0),
    "p": Onset("plosive", 400.0, 1500.0, 1.0),
    "k": Onset("plosive", 1500.0, 3200.0, 1.0),
    "t": Onset("plosive", 3000.0, 6500.0, 1.0),
    "m": Onset("nasal", 250.0, 1100.0, 0.4),
    "n": Onset("nasal", 250.0, 1700.0, 0.4),
}
"""Onset consonants by name; ``""`` is a vowel-initial syllable."""

VOWELS: dict[str, tuple[float, float, float]] = {
    "i": (270.0, 2290.0, 3010.0),  # heed
    "e": (530.0, 1840.0, 2480.0),  # head
    "a": (730.0, 1090.0, 2440.0),  # father
    "o": (570.0, 840.0, 2410.0),  # caught
    "u": (300.0, 870.0, 2240.0),  # who'd
    "@": (500.0, 1500.0, 2500.0),  # schwa
}
"""Adult male vowel formant targets (F1, F2, F3) in Hz (Peterson & Barney 1952)."""

_ONSET_NAMES = tuple(ONSETS)
_VOWEL_NAMES = tuple(VOWELS)


@dataclass(frozen=True)
class Syllable:
    """One synthetic syllable: an onset consonant then a vowel.

    Attributes:
        onset: Key of :data:`ONSETS` (``""`` for none).
        vowel: Key of :data:`VOWELS`.
    """

    onset: str
    vowel: str

    def __post_init__(self) -> None:
        if self.onset not in ONSETS:
            raise ValueError(f"unknown onset {self.onset!r}; expected one of {_ONSET_NAMES}")
        if self.vowel not in VOWELS:
            raise ValueError(f"unknown vowel {self.vowel!r}; expected one of {_VOWEL_NAMES}")

    @property
    def onset_kind(self) -> OnsetKind:
        """The onset's class: none, fricative, plosive or nasal."""
        return ONSETS[self.onset].kind

    @property
    def formants_hz(self) -> tuple[float, float]:
        """The vowel's (F1, F2) for an adult male vocal tract, in Hz."""
        f1, f2, _ = VOWELS[self.vowel]
        return f1, f2


def _spelled_syllable_count(word: str) -> int:
    """Vowel-letter groups in the spelling, silent final ``e`` dropped, clipped to 1-3."""
    groups = re.findall(r"[aeiouy]+", word)
    n = len(groups)
    if n > 1 and groups[-1] == "e" and word.endswith("e"):
        n -= 1
    return min(max(n, 1), 3)


def _hashed_syllables(word: str, salt: int) -> tuple[Syllable, ...]:
    digest = hashlib.sha256(f"{word}#{salt}".encode()).digest()
    return tuple(
        Syllable(_ONSET_NAMES[digest[2 * i] % len(_ONSET_NAMES)], _VOWEL_NAMES[digest[2 * i + 1] % len(_VOWEL_NAMES)])
        for i in range(_spelled_syllable_count(word))
    )


def _lexicon_syllables() -> dict[str, tuple[Syllable, ...]]:
    """Hash every LEXICON word, re-salting (in LEXICON order) until no two words collide."""
    taken: set[tuple[Syllable, ...]] = set()
    table: dict[str, tuple[Syllable, ...]] = {}
    for word in LEXICON:
        salt = 0
        while (sylls := _hashed_syllables(word, salt)) in taken:
            salt += 1
        taken.add(sylls)
        table[word] = sylls
    return table


_LEXICON_SYLLABLES = _lexicon_syllables()


def word_syllables(word: str) -> tuple[Syllable, ...]:
    """The syllables a word is spoken as: deterministic across runs and machines.

    The syllable count follows the spelling (vowel-letter groups, silent final ``e``,
    clipped to 1-3); onsets and vowels come from SHA-256 of the word. Words of
    :data:`LEXICON` are guaranteed distinct from each other; other words may collide.

    Args:
        word: A lowercase word without whitespace.

    Returns:
        One to three :class:`Syllable`.

    Raises:
        ValueError: If ``word`` is empty, not lowercase or contains whitespace.

    >>> len(word_syllables("wednesday")), len(word_syllables("dog"))
    (3, 1)
    """
    if not word or word != word.lower() or any(c.isspace() for c in word):
        raise ValueError(f"expected one lowercase word, got {word!r}")
    return _LEXICON_SYLLABLES.get(word) or _hashed_syllables(word, 0)


def random_sentence(rng: np.random.Generator, lo: int = 3, hi: int = 6) -> list[str]:
    """``lo`` to ``hi`` words drawn from :data:`LEXICON` (with repeats): what a corpus speaker says."""
    return [LEXICON[i] for i in rng.integers(len(LEXICON), size=int(rng.integers(lo, hi + 1)))]


def transcript(words: list[str]) -> str:
    """The sentence as a corpus transcript writes it: capitalised, with a full stop.

    >>> transcript(["please", "call", "stella"])
    'Please call stella.'
    """
    return " ".join(words).capitalize() + "."


# Function words carry no lexical stress (shorter, quieter, no pitch accent).
_UNSTRESSED = frozenset(
    {
        "a",
        "the",
        "to",
        "of",
        "and",
        "at",
        "for",
        "her",
        "with",
        "from",
        "is",
        "it",
        "we",
        "she",
        "can",
        "will",
        "into",
        "also",
    }
)

# --------------------------------------------------------------------------- speakers


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker's voice.

    Attributes:
        id: Speaker identifier, e.g. ``"p225"`` or ``"Ses01F"``.
        gender: ``"F"`` or ``"M"``.
        f0_hz: Habitual (neutral) fundamental frequency, Hz.
        formant_scale: Vocal-tract scaling of all formant frequencies (1.0 = adult male
            reference, ~1.15 adult female), dimensionless.
        rate_syll_per_s: Neutral speaking rate, syllables per second.
        breathiness: Habitual aspiration-noise level, 0 (pressed/modal) to 1 (whisper-like).
    """

    id: str
    gender: Literal["F", "M"]
    f0_hz: float
    formant_scale: float
    rate_syll_per_s: float
    breathiness: float

    def __post_init__(self) -> None:
        if self.gender not in ("F", "M"):
            raise ValueError(f"gender must be 'F' or 'M', got {self.gender!r}")
        if not 50.0 <= self.f0_hz <= 500.0:
            raise ValueError(f"f0_hz must be in [50, 500] Hz, got {self.f0_hz}")
        if not 0.7 <= self.formant_scale <= 1.6:
            raise ValueError(f"formant_scale must be in [0.7, 1.6], got {self.formant_scale}")
        if not 1.0 <= self.rate_syll_per_s <= 10.0:
            raise ValueError(f"rate_syll_per_s must be in [1, 10], got {self.rate_syll_per_s}")
        if not 0.0 <= self.breathiness <= 1.0:
            raise ValueError(f"breathiness must be in [0, 1], got {self.breathiness}")


_F0_RANGE_HZ = {"M": (85.0, 155.0), "F": (165.0, 255.0)}
_FORMANT_SCALE = {"M": 1.0, "F": 1.15}
_BREATHINESS_RANGE = {"M": (0.0, 0.12), "F": (0.04, 0.2)}


def make_speaker(rng: np.random.Generator, id: str, gender: Literal["F", "M"]) -> Speaker:
    """Draw a speaker: F0 M 85-155 Hz / F 165-255 Hz (uniform), formant scale 1.0 / 1.15
    with +-4% jitter, 3.6-5.2 syllables/s, breathiness M 0-0.12 / F 0.04-0.2.

    Args:
        rng: Source of randomness (four draws).
        id: Speaker identifier.
        gender: ``"F"`` or ``"M"``.

    Returns:
        The :class:`Speaker`.
    """
    if gender not in _F0_RANGE_HZ:
        raise ValueError(f"gender must be 'F' or 'M', got {gender!r}")
    return Speaker(
        id=id,
        gender=gender,
        f0_hz=float(rng.uniform(*_F0_RANGE_HZ[gender])),
        formant_scale=float(_FORMANT_SCALE[gender] * np.clip(1.0 + 0.02 * rng.standard_normal(), 0.96, 1.04)),
        rate_syll_per_s=float(rng.uniform(3.6, 5.2)),
        breathiness=float(rng.uniform(*_BREATHINESS_RANGE[gender])),
    )


# --------------------------------------------------------------------------- emotions


@dataclass(frozen=True)
class Emotion:
    """How an emotion changes a speaker's neutral voice (see the module table).

    Attributes:
        pitch_shift_st: Mean F0 shift, semitones.
        pitch_range_st: Size of pitch accents and intonation excursions, semitones.
        energy_db: Active-speech level relative to neutral, dB.
        rate_scale: Multiplier of the speaker's syllable rate.
        tilt_db_per_oct: Source spectral slope above ~200 Hz incl. lip radiation, dB/octave
            (modal ~ -6; pressed/bright flatter, breathy/dark steeper).
        jitter: Local period-to-period F0 perturbation, fraction of the period.
        shimmer: Local cycle-to-cycle amplitude perturbation, fraction of the amplitude.
        breathiness: Aspiration noise added to the speaker's own, 0-1.
        creak: Probability-like amount of creaky (halved, irregular F0) voice, 0-1;
            the utterance-final syllable creaks first.
        stress: Extra loudness (up to +5 dB), length (+35%) and pitch accent given to
            stressed syllables, 0-1 (FAU-Aibo "emphatic" ~ 0.8).
    """

    pitch_shift_st: float
    pitch_range_st: float
    energy_db: float
    rate_scale: float
    tilt_db_per_oct: float
    jitter: float
    shimmer: float
    breathiness: float
    creak: float
    stress: float = 0.0

    def __post_init__(self) -> None:
        if not -12.0 <= self.pitch_shift_st <= 12.0:
            raise ValueError(f"pitch_shift_st must be in [-12, 12], got {self.pitch_shift_st}")
        if not 0.0 <= self.pitch_range_st <= 12.0:
            raise ValueError(f"pitch_range_st must be in [0, 12], got {self.pitch_range_st}")
        if not -20.0 <= self.energy_db <= 12.0:
            raise ValueError(f"energy_db must be in [-20, 12], got {self.energy_db}")
        if not 0.4 <= self.rate_scale <= 2.0:
            raise ValueError(f"rate_scale must be in [0.4, 2], got {self.rate_scale}")
        if not -18.0 <= self.tilt_db_per_oct <= 0.0:
            raise ValueError(f"tilt_db_per_oct must be in [-18, 0], got {self.tilt_db_per_oct}")
        for name in ("jitter", "shimmer"):
            if not 0.0 <= getattr(self, name) <= 0.2:
                raise ValueError(f"{name} must be in [0, 0.2], got {getattr(self, name)}")
        for name in ("breathiness", "creak", "stress"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


EMOTIONS: dict[str, Emotion] = {
    # IEMOCAP
    "neutral": Emotion(0.0, 2.0, 0.0, 1.00, -6.0, 0.005, 0.030, 0.00, 0.00, 0.0),
    "happy": Emotion(3.0, 4.5, 3.0, 1.08, -4.5, 0.006, 0.035, 0.05, 0.00, 0.2),
    "excited": Emotion(5.0, 6.0, 6.0, 1.22, -3.5, 0.007, 0.040, 0.00, 0.00, 0.3),
    "sad": Emotion(-2.5, 1.0, -7.0, 0.78, -12.0, 0.018, 0.070, 0.35, 0.30, 0.0),
    "angry": Emotion(4.0, 5.0, 8.0, 1.12, -2.5, 0.008, 0.050, 0.00, 0.00, 0.4),
    "frustrated": Emotion(1.5, 3.0, 3.0, 0.95, -4.5, 0.009, 0.050, 0.10, 0.10, 0.3),
    "surprised": Emotion(6.0, 7.0, 4.0, 1.05, -4.5, 0.006, 0.035, 0.10, 0.00, 0.3),
    "fearful": Emotion(5.0, 2.5, 1.0, 1.15, -6.5, 0.015, 0.060, 0.20, 0.00, 0.0),
    "disgusted": Emotion(-1.5, 2.5, 1.0, 0.85, -6.0, 0.010, 0.050, 0.05, 0.20, 0.2),
    "other": Emotion(0.5, 2.5, 0.0, 1.00, -6.0, 0.006, 0.035, 0.05, 0.05, 0.1),
    # FAU-Aibo (children talking to a robot dog; neutral is shared)
    "anger": Emotion(3.0, 4.0, 6.0, 1.05, -3.5, 0.008, 0.045, 0.00, 0.00, 0.4),
    "emphatic": Emotion(1.0, 3.0, 5.0, 0.78, -4.5, 0.006, 0.040, 0.00, 0.00, 0.8),
    "positive": Emotion(3.0, 4.5, 2.0, 1.05, -5.0, 0.006, 0.035, 0.10, 0.00, 0.1),
    "rest": Emotion(0.5, 2.5, -1.0, 1.00, -6.5, 0.007, 0.040, 0.05, 0.05, 0.0),
}
"""Emotion name -> acoustic profile (module docstring has the table and sources)."""

EMOTION_CODES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
    "sur": "surprised",
    "fea": "fearful",
    "dis": "disgusted",
    "oth": "other",
    "xxx": "neutral",
    "A": "anger",
    "E": "emphatic",
    "N": "neutral",
    "P": "positive",
    "R": "rest",
}
"""IEMOCAP codes and FAU-Aibo letters -> :data:`EMOTIONS` names (``xxx``: no agreement)."""


def _emotion(name_or_code: str) -> Emotion:
    name = EMOTION_CODES.get(name_or_code, name_or_code)
    if name not in EMOTIONS:
        raise ValueError(
            f"unknown emotion {name_or_code!r}; expected one of {sorted(EMOTIONS)} or a code of {sorted(EMOTION_CODES)}"
        )
    return EMOTIONS[name]


# --------------------------------------------------------------------------- synthesis

_REF_RMS = 10 ** (-26 / 20)  # active-speech RMS of neutral speech, full scale = 1
_MAX_PEAK = 0.98
_F4_HZ = 3300.0  # adult male F4
_BANDWIDTHS_HZ = (80.0, 100.0, 150.0, 250.0)  # B1..B4 of modal voice
_TILT_CORNER_HZ = 200.0
_TAIL_S = 0.03  # resonator ring-out kept after a segment
_XFADE_S = 0.004  # crossfade between nasal and vowel filters


def _resonator_sos(freqs: Sequence[float], bws: Sequence[float], sr: int) -> np.ndarray:
    """Cascade of Klatt resonators (unity gain at DC) as second-order sections ``[k, 6]``."""
    sos = []
    for f, bw in zip(freqs, bws):
        if f >= 0.47 * sr:
            continue
        c = -np.exp(-2 * np.pi * bw / sr)
        b = 2 * np.exp(-np.pi * bw / sr) * np.cos(2 * np.pi * f / sr)
        sos.append([1 - b - c, 0.0, 0.0, 1.0, -b, -c])
    return np.asarray(sos)


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """Unit-RMS white noise restricted to [lo, hi] Hz by zeroing FFT bins."""
    hi = min(hi, 0.45 * sr)
    lo = min(lo, 0.5 * hi)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(f < lo) | (f > hi)] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _ramp(n: int, attack: int, release: int) -> np.ndarray:
    """A length-``n`` envelope with raised-cosine attack and release (samples)."""
    i = np.arange(n, dtype=np.float64)
    up = np.clip((i + 0.5) / max(attack, 1), 0.0, 1.0)
    down = np.clip((n - i - 0.5) / max(release, 1), 0.0, 1.0)
    return np.sin(0.5 * np.pi * np.minimum(up, down)) ** 2


@dataclass(frozen=True)
class _Slot:
    """Sample positions of one syllable: onset at [start, vowel), vowel at [vowel, end)."""

    syllable: Syllable
    stressed: bool
    start: int
    vowel: int
    end: int
    gain: float  # linear amplitude of this syllable
    burst: int  # plosive burst start (== start otherwise)
    aspiration: int  # start of formant-filtered aspiration (== vowel if none)


def _layout(rng: np.random.Generator, sr: int, words: list[str], rate: float, emo: Emotion) -> tuple[list[_Slot], int]:
    """Place every syllable in time; returns slots and the total length in samples."""
    period = 1.0 / rate  # s per syllable
    t = rng.uniform(0.05, 0.1)
    slots = []
    for w_i, word in enumerate(words):
        if w_i:
            t += 0.15 * period * rng.uniform(0.8, 1.2)  # word gap
        content = word not in _UNSTRESSED
        for s_i, syl in enumerate(word_syllables(word)):
            stressed = content and s_i == 0
            d = period * rng.uniform(0.88, 1.12)
            d *= (1.15 + 0.35 * emo.stress) if stressed else 0.85
            gain_db = (1.5 + 5.0 * emo.stress) if stressed else -1.5 * (1.0 + emo.stress)
            gain = 10 ** ((gain_db + 0.8 * rng.standard_normal()) / 20)
            kind, start = syl.onset_kind, t
            burst = start
            if kind == "fricative":
                vowel = start + (0.22 if syl.onset == "h" else 0.30) * d
            elif kind == "plosive":
                burst = start + 0.14 * d  # after the closure silence
                vowel = burst + 0.012 + 0.10 * d  # burst, then aspiration
            elif kind == "nasal":
                vowel = start + 0.25 * d
            else:
                vowel = start
            if syl.onset == "h":
                aspiration = start
            elif kind == "plosive":
                aspiration = burst + 0.012
            else:
                aspiration = vowel
            t += d
            slots.append(
                _Slot(
                    syl,
                    stressed,
                    *(int(round(x * sr)) for x in (start, vowel, t)),
                    gain,
                    int(round(burst * sr)),
                    int(round(aspiration * sr)),
                )
            )
    t += rng.uniform(0.05, 0.1)
    return slots, int(round(t * sr)) + 1


def speak(
    rng: np.random.Generator,
    sr: int,
    words: Sequence[str],
    speaker: Speaker,
    emotion: str = "neutral",
) -> np.ndarray:
    """Speak ``words`` in ``speaker``'s voice with ``emotion``.

    Args:
        rng: Source of randomness; the same state gives identical samples.
        sr: Sample rate, Hz (>= 8000; fricative bands are clipped below Nyquist).
        words: Lowercase words (any; :data:`LEXICON` words are mutually distinct).
        speaker: The voice (:func:`make_speaker`).
        emotion: A name of :data:`EMOTIONS` or a code of :data:`EMOTION_CODES`.

    Returns:
        float32 mono waveform in [-0.98, 0.98], with 50-100 ms of silence before and
        after; its active-speech RMS is -26 dBFS + the emotion's ``energy_db`` (+-1 dB),
        lowered as a whole only if a peak would exceed 0.98. Duration is about
        ``n_syllables / (speaker.rate_syll_per_s * rate_scale)`` plus word gaps.

    Raises:
        ValueError: For no words, an invalid word, an unknown emotion or ``sr < 8000``.
    """
    if sr < 8000:
        raise ValueError(f"sr must be >= 8000 Hz, got {sr}")
    words = list(words)
    if not words:
        raise ValueError("speak() needs at least one word")
    emo = _emotion(emotion)

    # Utterance-level variation: the same speaker never says a sentence twice alike.
    rate = speaker.rate_syll_per_s * emo.rate_scale * float(np.exp(0.04 * rng.standard_normal()))
    level_db = emo.energy_db + float(np.clip(0.5 * rng.standard_normal(), -1.0, 1.0))
    offset_st = emo.pitch_shift_st + 0.4 * float(rng.standard_normal())
    slots, n = _layout(rng, sr, words, rate, emo)
    breath = float(np.clip(speaker.breathiness + emo.breathiness, 0.0, 1.0))
    tilt = emo.tilt_db_per_oct - 2.0 * breath  # breathy voice also loses its upper harmonics

    # Voicing envelope, creak mask and F0 targets per syllable. (Loops run per syllable.)
    voiced = np.zeros(n)
    creak = np.zeros(n, dtype=bool)
    asp_env = np.zeros(n)  # formant-filtered aspiration: /h/ and plosive release
    f0_times, f0_st = [], []
    rng_range = emo.pitch_range_st
    last = len(slots) - 1
    creak_draws = rng.random(len(slots))
    for i, sl in enumerate(slots):
        v_start = sl.start if sl.syllable.onset_kind == "nasal" else sl.vowel
        length = sl.end - v_start
        voiced[v_start : sl.end] = sl.gain * _ramp(length, int(0.015 * sr), int(0.03 * sr))
        if sl.aspiration < sl.vowel:
            m = sl.vowel - sl.aspiration + int(0.01 * sr)
            asp_env[sl.aspiration : sl.aspiration + m] += 0.7 * sl.gain * _ramp(m, int(0.005 * sr), int(0.015 * sr))
        p_creak = min(1.0, 2.0 * emo.creak) if i == last else 0.5 * emo.creak
        if creak_draws[i] < p_creak:
            creak[(sl.vowel + sl.end) // 2 : sl.end] = True
        accent = (
            0.6 * rng_range * (1.0 + emo.stress) * rng.uniform(0.7, 1.0)
            if sl.stressed
            else 0.15 * rng_range * rng.standard_normal()
        )
        f0_times.append(0.5 * (sl.vowel + sl.end))
        f0_st.append(accent)
    f0_times = np.asarray(f0_times)
    progress = (f0_times - f0_times[0]) / max(f0_times[-1] - f0_times[0], 1.0)
    declination = (1.0 + 0.4 * rng_range) * (0.5 - progress)
    f0_st = np.asarray(f0_st) + declination + offset_st
    f0_st[-1] -= 0.4 * rng_range  # final fall
    st = np.interp(np.arange(n), f0_times, f0_st)
    f0 = speaker.f0_hz * 2.0 ** (st / 12.0)
    f0[creak] *= 0.5

    # Glottal pulses at sub-sample positions where the F0 phase crosses an integer.
    phase = np.cumsum(f0) / sr
    cycle = np.floor(phase)
    idx = np.flatnonzero(cycle[1:] > cycle[:-1])
    idx = idx[voiced[idx] > 1e-4]
    pos = idx + (cycle[idx + 1] - phase[idx]) / (phase[idx + 1] - phase[idx])
    in_creak = creak[idx]
    period = sr / f0[idx]  # samples
    # Independent timing noise of std j*T/2 gives a local (period-to-period) jitter ~ j.
    jit = np.where(in_creak, emo.jitter + 0.08, emo.jitter)
    pos = pos + 0.5 * jit * period * rng.standard_normal(len(idx))
    shim = np.where(in_creak, emo.shimmer + 0.3, emo.shimmer)
    amp = voiced[idx] * np.maximum(1.0 + shim / 1.13 * rng.standard_normal(len(idx)), 0.05)
    amp[in_creak] *= 0.6
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    ok = (i0 >= 0) & (i0 < n - 1)
    pulses = (
        np.bincount(i0[ok], amp[ok] * (1 - frac[ok]), minlength=n)
        + np.bincount(i0[ok] + 1, amp[ok] * frac[ok], minlength=n)
    )[:n]

    # Aspiration: pulse-synchronous for breathy voicing, steady for /h/ and releases.
    # A pulse train of height a has power a^2*f0/sr per sample; scale the noise likewise.
    pulse_sync = 0.4 + 0.6 * (0.5 + 0.5 * np.cos(2 * np.pi * phase))
    noise_env = np.sqrt(f0 / sr) * (breath * 0.8 * voiced * pulse_sync + asp_env)
    noise = rng.standard_normal(n) * noise_env

    # Source spectra: tilt on the pulses; aspiration high-passed, with the same tilt.
    n_fft = scipy.fft.next_fast_len(n, real=True)
    freq = np.fft.rfftfreq(n_fft, 1.0 / sr)
    dc_block = (freq / 60.0) ** 2 / (1.0 + (freq / 60.0) ** 2)
    h_tilt = dc_block * (1.0 + (freq / _TILT_CORNER_HZ) ** 2) ** (tilt / 12.04)
    h_noise = (freq / 400.0) ** 2 / (1.0 + (freq / 400.0) ** 2) * (1.0 + (freq / 1000.0) ** 2) ** (tilt / 12.04)
    source = scipy.fft.irfft(scipy.fft.rfft(pulses, n_fft) * h_tilt + scipy.fft.rfft(noise, n_fft) * h_noise, n_fft)[:n]

    # Vocal tract: one resonator cascade per vowel (and per nasal murmur), crossfaded.
    tail, xfade = int(_TAIL_S * sr), max(int(_XFADE_S * sr), 1)
    out = np.zeros(n + tail)
    vscale = speaker.formant_scale
    f1_effort = 1.0 + 0.012 * emo.energy_db  # louder voice opens the jaw: higher F1
    bws = tuple(b * (1.0 + breath) for b in _BANDWIDTHS_HZ)
    for sl in slots:
        f1, f2, f3 = VOWELS[sl.syllable.vowel]
        vowel_sos = _resonator_sos((f1 * vscale * f1_effort, f2 * vscale, f3 * vscale, _F4_HZ * vscale), bws, sr)
        onset = ONSETS[sl.syllable.onset]
        if onset.kind == "nasal":
            nasal_sos = _resonator_sos((onset.lo_hz * vscale, onset.hi_hz * vscale), (100.0, 200.0), sr)
            segments = [(sl.start, sl.vowel, nasal_sos, onset.level), (sl.vowel, sl.end, vowel_sos, 1.0)]
        else:
            segments = [(min(sl.aspiration, sl.vowel), sl.end, vowel_sos, 1.0)]
        for a, b, sos, level in segments:
            lo, hi = max(a - xfade // 2, 0), min(b + xfade // 2, n)
            x = np.concatenate([source[lo:hi] * _ramp(hi - lo, xfade, xfade), np.zeros(tail)])
            out[lo : lo + len(x)] += level * scipy.signal.sosfilt(sos, x)
    out = out[:n]
    active = voiced > 0.05
    vowel_rms = np.sqrt(np.mean(out[active] ** 2)) if active.any() else 1.0

    # Oral noise sources that bypass the vocal-tract cascade: fricatives and bursts.
    for sl in slots:
        onset = ONSETS[sl.syllable.onset]
        if onset.kind == "fricative" and onset.level > 0:
            m = sl.vowel - sl.start + int(0.01 * sr)
            env = _ramp(m, int(0.02 * sr), int(0.02 * sr))
            seg = onset.level * vowel_rms * sl.gain * env * _band_noise(rng, m, sr, onset.lo_hz, onset.hi_hz)
            out[sl.start : sl.start + m] += seg[: n - sl.start]
        elif onset.kind == "plosive":
            m = int(0.02 * sr)
            env = np.exp(-np.arange(m) / (0.003 * sr))
            seg = 2.0 * vowel_rms * sl.gain * env * _band_noise(rng, m, sr, onset.lo_hz * vscale, onset.hi_hz * vscale)
            out[sl.burst : sl.burst + m] += seg[: n - sl.burst]

    # Level carries the emotion: set active-speech RMS, then only ever scale down.
    rms = np.sqrt(np.mean(out[active] ** 2)) if active.any() else np.sqrt(np.mean(out**2))
    out *= _REF_RMS * 10 ** (level_db / 20) / (rms + 1e-12)
    peak = np.abs(out).max()
    if peak > _MAX_PEAK:
        out *= _MAX_PEAK / peak
    return out.astype(np.float32)
