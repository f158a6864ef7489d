"""Procedural sources of the synthetic audio world.

Every source is a pure function ``(rng, sr, ...) -> float32 waveform`` with its own
acoustic signature (spectral centre, harmonicity, envelope), so that a log-mel front end
separates them and a tiny model can learn them in seconds. Sound events use the real
DESED (10) and MAESTRO-Real (17) class names (FORMATS.md); acoustic scene beds cover the
six SSEU-Bench scenes (paper 05 §2); voices have speaker-type pitch ranges; instruments
(MUSIC-AVQA names) differ in timbre only, so the melody carries no label information.
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


def register_beep(rng, sr):
    """A cash register's scanner beep: a pure 1.5 kHz tone."""
    t = _t(sr, 0.15)
    return _normalise(np.sin(2 * np.pi * 1500.0 * t) * _env(len(t), 0.003, 1.0, sr) * np.hanning(len(t)) ** 0.1)


def door_thud(rng, sr):
    t = _t(sr, 0.09)
    x = np.sin(2 * np.pi * 140 * t) + 0.8 * _bandpass_noise(rng, len(t), sr, 80, 900)
    return _normalise(x * _env(len(t), 0.001, 0.02, sr))


def footstep(rng, sr):
    t = _t(sr, 0.07)
    x = 0.6 * np.sin(2 * np.pi * 90 * t) + _bandpass_noise(rng, len(t), sr, 200, 3000)
    return _normalise(x * _env(len(t), 0.001, 0.015, sr))


def bird_chirp(rng, sr):
    t = _t(sr, 0.12)
    f = np.linspace(rng.uniform(2800, 3400), rng.uniform(4200, 5200), len(t))
    return _normalise(_harmonic(t, f, [1.0, 0.15]) * np.sin(np.pi * t / t[-1]) ** 2)


def blender(rng, sr, seconds=1.2):
    t = _t(sr, seconds)
    hum = _harmonic(t, 320.0 * rng.uniform(0.95, 1.05), [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    x = hum + 0.8 * _bandpass_noise(rng, len(t), sr, 1500, min(5000, sr / 2 - 100))
    return _normalise(x * np.hanning(len(t)) ** 0.2)


# Discrete events can be counted; continuous ones fill a stretch of time. Keys are the
# datasets' class names; values are (label used in questions, synthesiser).
DISCRETE_EVENTS = {
    "Alarm_bell_ringing": ("alarm bell", alarm_bell),
    "Dog": ("dog barking", dog_bark),
    "Cat": ("cat meowing", cat_meow),
    "Dishes": ("dishes clinking", dishes_clink),
    "cash register": ("cash register beeping", register_beep),
    "door opens/closes": ("door closing", door_thud),
}
CONTINUOUS_EVENTS = {
    "Running_water": ("running water", running_water),
    "Vacuum_cleaner": ("vacuum cleaner", vacuum_cleaner),
    "Electric_shaver_toothbrush": ("electric shaver", electric_shaver),
    "Frying": ("frying food", frying),
    "Blender": ("blender", blender),
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
        spec_weight += np.exp(-(((fk - f1) / 150) ** 2)) + 0.7 * np.exp(-(((fk - f2) / 250) ** 2))
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
    if instrument == "cello":
        vib = 0.5 * f * (1 + 0.012 * np.sin(2 * np.pi * 4.5 * t))
        x = _harmonic(t, vib, [1.0, 0.9, 0.6, 0.5, 0.3, 0.2])
        return x * np.clip(t / 0.12, 0, 1) * np.clip((t[-1] - t) / 0.06, 0, 1)
    if instrument == "trumpet":
        x = _harmonic(t, f, [0.5, 0.8, 1.0, 0.9, 0.7, 0.5, 0.4, 0.3])
        return np.tanh(1.5 * x) * np.clip(t / 0.03, 0, 1) * np.clip((t[-1] - t) / 0.04, 0, 1)
    if instrument == "acoustic_guitar":
        x = _harmonic(t, f, [1.0, 0.6, 0.45, 0.3, 0.2, 0.1])
        return x * _env(n, 0.002, 0.35, sr)
    if instrument == "xylophone":
        x = np.sin(2 * np.pi * 2 * f * t) + 0.4 * np.sin(2 * np.pi * 2 * f * 3.93 * t)
        return x * _env(n, 0.001, 0.08, sr)
    raise ValueError(f"unknown instrument {instrument!r}")


INSTRUMENTS = ("piano", "flute", "violin", "drum")
#: The MUSIC-AVQA instruments the world plays (its answer vocabulary's names).
ENSEMBLE_INSTRUMENTS = ("piano", "flute", "violin", "drum", "cello", "trumpet", "acoustic_guitar", "xylophone")


def melody(rng: np.random.Generator, sr: int, instrument: str, n_notes: int, seconds: float) -> np.ndarray:
    """``n_notes`` evenly spaced notes on ``instrument`` filling ``seconds``."""
    out = np.zeros(int(sr * seconds))
    step = seconds / n_notes
    scale = 261.63 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    for i in range(n_notes):
        note = _note(rng, sr, instrument, float(rng.choice(scale)), step * 0.9)
        start = int(i * step * sr)
        out[start : start + len(note)] += note[: len(out) - start]
    return _normalise(out)


def background(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """A quiet room-tone bed so that no clip is digitally silent between events."""
    n = int(sr * seconds)
    return (0.01 * _bandpass_noise(rng, n, sr, 50, min(4000, sr / 2 - 100))).astype(np.float32)


# --------------------------------------------------------------------------- MAESTRO-Real events
# The 17 MAESTRO-Real classes (FORMATS.md), each with its own signature. ``seconds`` is
# the stretch the event fills; short events repeat inside it.


def _repeat(rng, sr, seconds, unit, rate_hz):
    """``unit`` occurrences at ~``rate_hz`` with jittered spacing, filling ``seconds``."""
    n = int(round(sr * seconds))
    out = np.zeros(n)
    t = rng.uniform(0, 0.5 / rate_hz)
    while t < seconds:
        x = unit(rng, sr)
        i = int(t * sr)
        out[i : i + len(x)] += x[: n - i]
        t += rng.uniform(0.6, 1.4) / rate_hz
    return out


def _babble(rng, sr, seconds, lo, hi, voices=3):
    """Several overlapping voices in the pitch range [lo, hi] Hz."""
    out = sum(voice(rng, sr, "Man", seconds, f0=rng.uniform(lo, hi)) for _ in range(voices))
    return out


def _sweep_rumble(rng, sr, seconds, rising: bool):
    t = _t(sr, seconds)
    ramp = np.linspace(0.2, 1.0, len(t)) if rising else np.linspace(1.0, 0.2, len(t))
    f = 55.0 * (1 + 0.3 * (ramp if rising else ramp[::-1]))
    squeal = 0.3 * np.sin(2 * np.pi * np.cumsum(np.full(len(t), 2600.0 if rising else 2200.0)) / sr)
    return (_harmonic(t, f, [1.0, 0.7, 0.5]) + _bandpass_noise(rng, len(t), sr, 40, 700) + squeal) * ramp


MAESTRO_SYNTHS = {
    "announcement": lambda rng, sr, s: np.concatenate(
        [alarm_bell(rng, sr), voice(rng, sr, "Woman", max(s - 0.35, 0.1))]
    ),
    "birds singing": lambda rng, sr, s: _repeat(rng, sr, s, bird_chirp, 6.0),
    "brakes squeaking": lambda rng, sr, s: (
        _harmonic(_t(sr, s), 3100.0 * (1 + 0.01 * np.sin(2 * np.pi * 7 * _t(sr, s))), [1.0, 0.3])
        * np.hanning(int(round(sr * s))) ** 0.5
    ),
    "car": lambda rng, sr, s: (
        (
            _harmonic(_t(sr, s), 38.0 * rng.uniform(0.9, 1.1), [1.0, 0.8, 0.6, 0.4])
            + 0.8 * _bandpass_noise(rng, int(round(sr * s)), sr, 100, 1500)
        )
        * np.hanning(int(round(sr * s)))
    ),
    "cash register": lambda rng, sr, s: _repeat(rng, sr, s, register_beep, 2.0),
    "children voices": lambda rng, sr, s: _babble(rng, sr, s, 290, 360, 2),
    "coffee machine": lambda rng, sr, s: (
        _bandpass_noise(rng, int(round(sr * s)), sr, 600, 2500) * (1 + 0.8 * np.sin(2 * np.pi * 31 * _t(sr, s)))
    ),
    "cutlery and dishes": lambda rng, sr, s: _repeat(rng, sr, s, dishes_clink, 4.0),
    "door opens/closes": lambda rng, sr, s: _repeat(rng, sr, s, door_thud, 0.8),
    "footsteps": lambda rng, sr, s: _repeat(rng, sr, s, footstep, 2.0),
    "furniture dragging": lambda rng, sr, s: (
        _bandpass_noise(rng, int(round(sr * s)), sr, 150, 900) * (1 + np.sign(np.sin(2 * np.pi * 11 * _t(sr, s))))
    ),
    "large vehicle": lambda rng, sr, s: (
        (_harmonic(_t(sr, s), 28.0, [1.0, 1.0, 0.8, 0.6, 0.5]) + _bandpass_noise(rng, int(round(sr * s)), sr, 30, 400))
        * np.hanning(int(round(sr * s))) ** 0.5
    ),
    "metro approaching": lambda rng, sr, s: _sweep_rumble(rng, sr, s, True),
    "metro leaving": lambda rng, sr, s: _sweep_rumble(rng, sr, s, False),
    "people talking": lambda rng, sr, s: _babble(rng, sr, s, 100, 240, 3),
    "shopping cart": lambda rng, sr, s: _repeat(
        rng,
        sr,
        s,
        lambda r, q: _normalise(
            _bandpass_noise(r, int(0.02 * q), q, 2000, min(7000, q / 2 - 100)) * np.hanning(int(0.02 * q))
        ),
        25.0,
    ),
    "wind blowing": lambda rng, sr, s: (
        _bandpass_noise(rng, int(round(sr * s)), sr, 30, 500)
        * (1.2 + np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * _t(sr, s)))
    ),
}


def maestro_event(cls: str, rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """One MAESTRO-Real event of class ``cls`` lasting ``seconds``, peak 1."""
    x = np.asarray(MAESTRO_SYNTHS[cls](rng, sr, seconds), dtype=np.float64)[: int(round(sr * seconds))]
    return _normalise(x)


# --------------------------------------------------------------------------- acoustic scenes
# Background beds of the six SSEU-Bench scenes (paper 05 §2): each a distinct noise colour
# and hum, so a scene is recognisable from the bed alone; the events on top come from the
# scene's event list (MAESTRO scenes) or DESED's domestic classes (home).

SCENE_BEDS = {  # scene -> (noise band Hz, hum f0 Hz or 0, slow modulation Hz)
    "home": ((60, 1500), 50.0, 0.0),
    "restaurant": ((200, 3500), 0.0, 2.5),
    "city center": ((40, 2500), 0.0, 0.3),
    "grocery store": ((300, 6000), 100.0, 0.0),
    "metro station": ((30, 900), 0.0, 0.15),
    "residential area": ((80, 5000), 0.0, 0.8),
}
MAESTRO_SCENE_NAMES = {  # MAESTRO-Real folder name -> SSEU scene
    "cafe_restaurant": "restaurant",
    "city_center": "city center",
    "grocery_store": "grocery store",
    "metro_station": "metro station",
    "residential_area": "residential area",
}
SCENE_EVENTS = {  # MAESTRO folder -> classes that occur there
    "cafe_restaurant": (
        "people talking",
        "cutlery and dishes",
        "coffee machine",
        "furniture dragging",
        "door opens/closes",
        "footsteps",
    ),
    "city_center": (
        "car",
        "large vehicle",
        "footsteps",
        "people talking",
        "brakes squeaking",
        "birds singing",
        "children voices",
    ),
    "grocery_store": (
        "shopping cart",
        "cash register",
        "announcement",
        "people talking",
        "footsteps",
        "children voices",
    ),
    "metro_station": (
        "metro approaching",
        "metro leaving",
        "announcement",
        "footsteps",
        "people talking",
        "brakes squeaking",
    ),
    "residential_area": (
        "birds singing",
        "car",
        "wind blowing",
        "children voices",
        "door opens/closes",
        "footsteps",
        "large vehicle",
    ),
}


def scene_bed(rng: np.random.Generator, sr: int, seconds: float, scene: str) -> np.ndarray:
    """The background bed of an SSEU scene at RMS about -30 dBFS."""
    (lo, hi), hum, mod = SCENE_BEDS[scene]
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    x = _bandpass_noise(rng, n, sr, lo, min(hi, sr / 2 - 100))
    if hum:
        x = x + 0.5 * _harmonic(t, hum, [1.0, 0.5, 0.25]) if n > 1 else x
    if mod:
        x = x * (1 + 0.5 * np.sin(2 * np.pi * mod * t + rng.uniform(0, 6)))
    rms = np.sqrt(np.mean(x**2)) + 1e-12
    return (x * 10 ** (-30 / 20) / rms).astype(np.float32)
