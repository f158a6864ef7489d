"""IEMOCAP-format sessions of the world (paper 04): the IEMOCAP_full_release tree.

Writes ``iemocap/IEMOCAP_full_release/Session{1..5}/`` as the real release lays it out:
``sentences/wav/<dialog>/<utterance>.wav`` (16 kHz), ``dialog/EmoEvaluation/<dialog>.txt``
(one ``[start - end]\tutterance\tcode\t[V, A, D]`` line per utterance, then per-annotator
``C-E*`` category lines and an ``A-E1`` dimension line) and
``dialog/transcriptions/<dialog>.txt``. The utterances come from
:mod:`audioreason.world.speech`, whose acoustics depend on the speaker's gender and the
emotion, so eGeMAPS features and concept tokens really separate the classes. The traps of
the real release are there: five sessions with one female and one male speaker each;
dialog names with suffixes (``Ses03M_impro05a``, ``Ses05M_script01_1b``); the speaker's
gender only in the segment after the last underscore; labels outside the 4-way set
(``fru``, ``sur``, ``xxx`` ...); ``Categorical/`` subfolders with other ``.txt`` files;
AppleDouble ``._*`` files next to the real ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audioreason.config import WorldConfig
from audioreason.world import speech
from audioreason.world.audio_out import write_audio

# IEMOCAP label distribution (roughly the corpus' own, which is dominated by neu/fru/xxx).
IEMOCAP_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
IEMOCAP_WEIGHTS = (0.22, 0.08, 0.12, 0.13, 0.13, 0.14, 0.03, 0.02, 0.01, 0.01, 0.11)
IEMOCAP_CATEGORY = {
    "neu": "Neutral state",
    "hap": "Happiness",
    "exc": "Excited",
    "sad": "Sadness",
    "ang": "Anger",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}
IEMOCAP_4WAY = {"neu": "neu", "hap": "hap", "exc": "hap", "sad": "sad", "ang": "ang"}
# A dialog list per session in the corpus' naming, suffixes included.
IEMOCAP_DIALOGS = ("impro01", "script01_1", "impro05a", "script01_1b", "impro03", "script02_2", "impro08", "script03_1")


def write_iemocap(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``iemocap/IEMOCAP_full_release/Session{1..5}/...``; returns expected importer counts."""
    icfg = cfg.iemocap
    root = out / "iemocap" / "IEMOCAP_full_release"
    expected = {"labels": {}, "raw": {}, "speakers": {}, "records": 0, "filtered": 0}
    for s, sseq in enumerate(seed_seq.spawn(5), start=1):
        rng = np.random.default_rng(sseq)
        spk = {g: speech.make_speaker(rng, f"Ses{s:02d}_{g}", g) for g in ("F", "M")}
        sess = root / f"Session{s}"
        for d in range(icfg.dialogs_per_session):
            wearer = "F" if (s + d) % 2 else "M"  # the mocap wearer, not the speaker
            dialog = f"Ses{s:02d}{wearer}_{IEMOCAP_DIALOGS[(s + d) % len(IEMOCAP_DIALOGS)]}"
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            transcript_lines = []
            t = 5.0 + float(rng.uniform(0, 3))
            turn = {"F": 0, "M": 0}
            for _ in range(icfg.utterances_per_dialog):
                g = "F" if rng.random() < 0.5 else "M"
                utt = f"{dialog}_{g}{turn[g]:03d}"
                turn[g] += 1
                code = IEMOCAP_CODES[int(rng.choice(len(IEMOCAP_CODES), p=IEMOCAP_WEIGHTS))]
                emotion = speech.EMOTION_CODES[code]
                words = speech.random_sentence(rng)
                x = speech.speak(rng, icfg.sample_rate, words, spk[g], emotion)
                write_audio(sess / "sentences" / "wav" / dialog / f"{utt}.wav", x, icfg.sample_rate)
                dur = len(x) / icfg.sample_rate
                vad = np.round(rng.uniform(1.5, 4.5, 3) * 2) / 2
                lines.append(f"[{t:.4f} - {t + dur:.4f}]\t{utt}\t{code}\t[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]")
                for ann in ("C-E1", "C-E2", "C-E3"):
                    cat = IEMOCAP_CATEGORY.get(code, IEMOCAP_CATEGORY[IEMOCAP_CODES[int(rng.integers(10))]])
                    lines.append(f"{ann}:\t{cat};\t()")
                lines.append(f"A-E1:\tval {int(vad[0])}; act {int(vad[1])}; dom  {int(vad[2])};\t()")
                lines.append("")
                transcript_lines.append(f"{utt} [{t:08.4f}-{t + dur:08.4f}]: {speech.transcript(words)}")
                t += dur + float(rng.uniform(0.2, 1.5))
                expected["raw"][code] = expected["raw"].get(code, 0) + 1
                if code in IEMOCAP_4WAY:
                    lab = IEMOCAP_4WAY[code]
                    expected["labels"][lab] = expected["labels"].get(lab, 0) + 1
                    expected["records"] += 1
                    expected["speakers"][f"Ses{s:02d}_{g}"] = g  # speakers with a 4-way utterance
                else:
                    expected["filtered"] += 1
                truth.append(
                    {
                        "dataset": "iemocap",
                        "split": "test" if s == 5 else "train",
                        "clip": f"iemocap/IEMOCAP_full_release/Session{s}/sentences/wav/{dialog}/{utt}.wav",
                        "emotion": emotion,
                        "code": code,
                        "gender": g,
                        "speaker": spk[g].id,
                        "words": words,
                    }
                )
            emo = sess / "dialog" / "EmoEvaluation"
            emo.mkdir(parents=True, exist_ok=True)
            (emo / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
            # Traps of the real release: other .txt files in subfolders, AppleDouble files.
            (emo / "Categorical").mkdir(exist_ok=True)
            (emo / "Categorical" / f"{dialog}_e1_cat.txt").write_text(f"{dialog}_F000 :Neutral state; ()\n")
            (emo / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
            (sess / "sentences" / "wav" / dialog / f"._{dialog}_F000.wav").write_bytes(b"\x00\x05\x16\x07")
            tr = sess / "dialog" / "transcriptions"
            tr.mkdir(parents=True, exist_ok=True)
            (tr / f"{dialog}.txt").write_text("\n".join(transcript_lines) + "\n")
            expected["appledouble"] = expected.get("appledouble", 0) + 2
    return expected
