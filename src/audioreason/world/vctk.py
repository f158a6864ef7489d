"""VCTK-0.92-format speakers of the world (paper 04): speaker-info.txt, transcripts and FLAC.

Writes ``vctk/speaker-info.txt`` (``ID AGE GENDER ACCENTS REGION COMMENTS``),
``vctk/txt/<speaker>/<speaker>_<n>.txt`` and
``vctk/wav48_silence_trimmed/<speaker>/<speaker>_<n>_mic{1,2}.flac`` (48 kHz FLAC from two
microphones) with the traps of the real release: p280 has no mic2, p315 has no text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world import speech
from audioreason.world.audio_out import write_audio

VCTK_ACCENTS = (
    ("English", "Southern England"),
    ("Scottish", "Edinburgh"),
    ("Irish", "Dublin"),
    ("American", "Connecticut"),
    ("Welsh", "Cardiff"),
    ("Canadian", "Toronto"),
)


def _mic2(x: np.ndarray) -> np.ndarray:
    """The second VCTK microphone: further away, duller (one-pole low-pass) and quieter."""
    from scipy.signal import lfilter

    return (0.7 * lfilter([0.35], [1.0, -0.65], x)).astype(np.float32)


def write_vctk(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``vctk/{speaker-info.txt, txt/, wav48_silence_trimmed/}`` with the p280 / p315 traps."""
    vcfg = cfg.vctk
    root = out / "vctk"
    rng = np.random.default_rng(seed_seq)
    ids = ["p280", "p315"] + [f"p{225 + k}" for k in range(vcfg.speakers - 2)]
    ids = sorted(ids)
    info = ["ID  AGE  GENDER  ACCENTS  REGION COMMENTS "]
    expected = {"records": 0, "gender": {}, "no_text": 0, "no_mic2": 0}
    for sid in tqdm(ids, desc="world vctk", leave=False, disable=None):
        gender = "F" if rng.random() < 0.5 else "M"
        accent, region = VCTK_ACCENTS[int(rng.integers(len(VCTK_ACCENTS)))]
        comment = {"p280": "  (mic2 files unavailable)", "p315": "  (Text missing)"}.get(sid, "")
        info.append(f"{sid}  {int(rng.integers(18, 39))}  {gender}    {accent}  {region}{comment}")
        expected["gender"][gender] = expected["gender"].get(gender, 0) + 1
        spk = speech.make_speaker(rng, sid, gender)
        for u in range(1, vcfg.utterances_per_speaker + 1):
            words = speech.random_sentence(rng)
            x = speech.speak(rng, vcfg.sample_rate, words, spk, "neutral")
            wav = root / "wav48_silence_trimmed" / sid
            write_audio(wav / f"{sid}_{u:03d}_mic1.flac", x, vcfg.sample_rate, fmt="FLAC")
            if sid != "p280":
                write_audio(wav / f"{sid}_{u:03d}_mic2.flac", _mic2(x), vcfg.sample_rate, fmt="FLAC")
            else:
                expected["no_mic2"] += 1
            if sid != "p315":
                (root / "txt" / sid).mkdir(parents=True, exist_ok=True)
                (root / "txt" / sid / f"{sid}_{u:03d}.txt").write_text(speech.transcript(words) + "\n")
            else:
                expected["no_text"] += 1
            expected["records"] += 1
            truth.append(
                {
                    "dataset": "vctk",
                    "split": "all",
                    "clip": f"vctk/wav48_silence_trimmed/{sid}/{sid}_{u:03d}_mic1.flac",
                    "speaker": sid,
                    "gender": gender,
                    "words": words,
                    "text": speech.transcript(words),
                }
            )
    root.mkdir(parents=True, exist_ok=True)
    (root / "speaker-info.txt").write_text("\n".join(info) + "\n")
    return expected
