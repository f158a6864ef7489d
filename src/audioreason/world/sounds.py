"""Procedural sources of the synthetic audio world.

Every source is a pure function ``(rng, sr, ...) -> float32 waveform`` with its own
acoustic signature (spectral centre, harmonicity, envelope), so that a log-mel front end
separates them and a tiny model can learn them in seconds. Sound events use DESED class
names; voices have speaker-type pitch ranges; instruments differ in timbre only, so the
melody carries no label information.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- helpers


def _t(sr: int, seconds: float) -> np.ndarray:
    return np.arange(int(round(sr * seconds)), dtype=np.float64) / sr


def _env(n: int, attack: float, decay: float, sr: int) -> np.ndarray:
    """Linear attack then exponential decay with time constant ``decay`` seconds."""
    t = np.arange(n) / sr
    a = np.clip(t / max(attack, 1e-4), 0.0, 1.0)
    return a * np.exp(-np.maximum(t - attack, 0.0) / decay)


def _bandpass_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise restricted to [lo, hi] Hz by zeroing FFT bins (exact, no filter design)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(f < lo) | (f > hi)] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.abs(x).max() + 1e-9)


def _harmonic(t: np.ndarray, f0: np.ndarray | float, amps: list[float]) -> np.ndarray:
    """Sum of harmonics k*f0 with amplitudes ``amps``; ``f0`` may vary over time."""
    dt = t[1] - t[0] if len(t) > 1 else 0.0
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(f0, t.shape)) * dt
    return sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps))


def _normalise(x: np.ndarray, peak: float = 1.0) -> np.ndarray:
    return (peak * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


# --------------------------------------------------------------------------- sound events
# Each event synthesiser returns one occurrence; ``EVENTS`` maps DESED class -> (label, fn, seconds).


def alarm_bell(rng, sr):
    t = _t(sr, 0.35)
    f = 880.0 * rng.uniform(0.97, 1.03)
    partials = [1.0, 2.76, 5.4, 8.93]  # inharmonic bell partials
    x = sum(np.sin(2 * np.pi * f * p * t) / (i + 1) for i, p in enumerate(partials))
    return _normalise(x * _env(len(t), 0.002, 0.12, sr))


def dog_bark(rng, sr):
    t = _t(sr, 0.22)
    f0 = 450.0 * rng.uniform(0.9, 1.1) * np.linspace(1.15, 0.85, len(t))
    voiced = _harmonic(t, f0, [1.0, 0.8, 0.6, 0.4, 0.3])
    x = voiced + 0.6 * _bandpass_noise(rng, len(t), sr, 300, 2500)
    return _normalise(x * _env(len(t), 0.01, 0.06, sr))


def cat_meow(rng, sr):
    t = _t(sr, 0.6)
    glide = np.interp(t, [0, 0.25, 0.6], [500, 900, 600]) * rng.uniform(0.95, 1.05)
    x = _harmonic(t, glide, [1.0, 0.5, 0.25])
    return _normalise(x * np.sin(np.pi * t / t[-1]) ** 0.5)


def dishes_clink(rng, sr):
    t = _t(sr, 0.12)
    f = rng.uniform(3000, 4200)
    x = np.sin(2 * np.pi * f * t) + 0.7 * np.sin(2 * np.pi * 1.47 * f * t)
    return _normalise(x * _env(len(t), 0.001, 0.025, sr))


def running_water(rng, sr, seconds=1.2):
    n = int(sr * seconds)
    x = _bandpass_noise(rng, n, sr, 1000, min(6000, sr / 2 - 100))
    am = 1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(5, 9) * np.arange(n) / sr)
    return _normalise(x * am * np.hanning(n) ** 0.2)


def vacuum_cleaner(rng, sr, seconds=1.2):
    t = _t(sr, seconds)
    hum = _harmonic(t, 180.0 * rng.uniform(0.95, 1.05), [1.0, 0.7, 0.5, 0.4, 0.3, 0.2])
    x = hum + 1.5 * _bandpass_noise(rng, len(t), sr, 400, 3000)
    return _normalise(x * np.hanning(len(t)) ** 0.2)


def electric_shaver(rng, sr, seconds=1.0):
    t = _t(sr, seconds)
    f = 110.0 * rng.uniform(0.95, 1.05)
    x = np.sign(np.sin(2 * np.pi * f * t)) * (1 + 0.5 * np.sin(2 * np.pi * 23 * t))
    return _normalise(x * np.hanning(len(t)) ** 0.2)


def frying(rng, sr, seconds=1.2):
    n = int(sr * seconds)
    crackle = (rng.random(n) < 0.004) * rng.standard_normal(n) * 4.0
    x = crackle + 0.3 * _bandpass_noise(rng, n, sr, 2000, min(7000, sr / 2 - 100))
    return _normalise(x * np.hanning(n) ** 0.2)


def beep(rng, sr):
    t = _t(sr, 0.15)
    return _normalise(np.sin(2 * np.pi * 1500.0 * t) * _env(len(t), 0.003, 1.0, sr) * np.hanning(len(t)) ** 0.1)


def knock(rng, sr):
    t = _t(sr, 0.09)
    x = np.sin(2 * np.pi * 140 * t) + 0.8 * _bandpass_noise(rng, len(t), sr, 80, 900)
    return _normalise(x * _env(len(t), 0.001, 0.02, sr))


# Discrete events can be counted; continuous ones fill a stretch of time.
DISCRETE_EVENTS = {
    "Alarm_bell_ringing": ("alarm bell", alarm_bell),
    "Dog": ("dog barking", dog_bark),
    "Cat": ("cat meowing", cat_meow),
    "Dishes": ("dishes clinking", dishes_clink),
    "Beep": ("beeping", beep),
    "Knock": ("knocking", knock),
}
CONTINUOUS_EVENTS = {
    "Running_water": ("running water", running_water),
    "Vacuum_cleaner": ("vacuum cleaner", vacuum_cleaner),
    "Electric_shaver_toothbrush": ("electric shaver", electric_shaver),
    "Frying": ("frying food", frying),
}


def event_label(cls: str) -> str:
    return {**DISCRETE_EVENTS, **CONTINUOUS_EVENTS}[cls][0]


def synth_event(cls: str, rng: np.random.Generator, sr: int, seconds: float | None = None) -> np.ndarray:
    if cls in DISCRETE_EVENTS:
        return DISCRETE_EVENTS[cls][1](rng, sr)
    fn = CONTINUOUS_EVENTS[cls][1]
    return fn(rng, sr) if seconds is None else fn(rng, sr, seconds)


# --------------------------------------------------------------------------- voices
# "Speech": a glottal-pulse-like harmonic source with syllabic amplitude modulation and
# vowel formants. Speaker type sets the pitch range; a robot voice is flat and buzzy.

VOICES = {
    "Man": (95.0, 140.0),
    "Woman": (185.0, 245.0),
    "Child": (290.0, 360.0),
    "Robot": (120.0, 120.0),
}
_FORMANTS = [(700, 1200), (400, 2000), (300, 2300), (500, 900)]  # a, e, i, o (F1, F2), Hz


def voice(rng: np.random.Generator, sr: int, speaker: str, seconds: float, f0: float | None = None) -> np.ndarray:
    """A sequence of syllables spoken by ``speaker`` (one of :data:`VOICES`)."""
    lo, hi = VOICES[speaker]
    base = f0 if f0 is not None else rng.uniform(lo, hi)
    t = _t(sr, seconds)
    n = len(t)
    if speaker == "Robot":
        f0_track = np.full(n, base)
        src = np.sign(np.sin(2 * np.pi * np.cumsum(f0_track) / sr))
    else:
        f0_track = base * (1 + 0.06 * np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t + rng.uniform(0, 6)))
        src = _harmonic(t, f0_track, [1.0 / (k + 1) for k in range(12)])
    # Formants: emphasise harmonics near F1/F2 of a vowel that changes every syllable.
    syll_rate = rng.uniform(3.5, 5.0)
    syllable = np.floor(t * syll_rate).astype(int)
    vowels = rng.integers(0, len(_FORMANTS), syllable.max() + 1)
    spec_weight = np.zeros(n)
    for k in range(1, 13):
        fk = k * f0_track
        f1 = np.array([_FORMANTS[v][0] for v in vowels])[syllable]
        f2 = np.array([_FORMANTS[v][1] for v in vowels])[syllable]
        spec_weight += np.exp(-((fk - f1) / 150) ** 2) + 0.7 * np.exp(-((fk - f2) / 250) ** 2)
    x = src * (0.3 + spec_weight / 4)
    am = np.clip(np.sin(np.pi * (t * syll_rate % 1.0)), 0, 1) ** 0.7
    return _normalise(x * am)


# --------------------------------------------------------------------------- music
# Instruments differ in timbre (harmonic recipe and envelope); pitch sequences are random.

def _note(rng, sr, instrument: str, f: float, seconds: float) -> np.ndarray:
    t = _t(sr, seconds)
    n = len(t)
    if instrument == "piano":
        x = _harmonic(t, f, [1.0, 0.5, 0.3, 0.2, 0.1])
        return x * _env(n, 0.004, 0.25, sr)
    if instrument == "flute":
        x = np.sin(2 * np.pi * f * t) + 0.1 * np.sin(4 * np.pi * f * t) + 0.08 * _bandpass_noise(rng, n, sr, f, 3 * f)
        return x * np.clip(t / 0.05, 0, 1) * np.clip((t[-1] - t) / 0.05, 0, 1)
    if instrument == "violin":
        vib = f * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
        x = _harmonic(t, vib, [1.0 / (k + 1) for k in range(10)])
        return x * np.clip(t / 0.08, 0, 1) * np.clip((t[-1] - t) / 0.05, 0, 1)
    if instrument == "drum":
        x = np.sin(2 * np.pi * 70 * t * np.exp(-t * 8)) + 0.5 * _bandpass_noise(rng, n, sr, 50, 2000)
        return x * _env(n, 0.001, 0.06, sr)
    raise ValueError(f"unknown instrument {instrument!r}")


INSTRUMENTS = ("piano", "flute", "violin", "drum")


def melody(rng: np.random.Generator, sr: int, instrument: str, n_notes: int, seconds: float) -> np.ndarray:
    """``n_notes`` evenly spaced notes on ``instrument`` filling ``seconds``."""
    out = np.zeros(int(sr * seconds))
    step = seconds / n_notes
    scale = 261.63 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    for i in range(n_notes):
        note = _note(rng, sr, instrument, float(rng.choice(scale)), step * 0.9)
        start = int(i * step * sr)
        out[start:start + len(note)] += note[: len(out) - start]
    return _normalise(out)


def background(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """A quiet room-tone bed so that no clip is digitally silent between events."""
    n = int(sr * seconds)
    return (0.01 * _bandpass_noise(rng, n, sr, 50, min(4000, sr / 2 - 100))).astype(np.float32)
