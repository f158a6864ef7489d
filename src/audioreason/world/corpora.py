"""Speech corpora of the world in their real layouts: IEMOCAP, FAU-Aibo and VCTK (FORMATS.md).

The utterances come from :mod:`audioreason.world.speech`, whose pitch, energy, rate,
spectral tilt and voice quality depend on the speaker's gender and on the emotion, so the
eGeMAPS features and concept tokens of paper 04 really separate the classes, and speaker
gender matters as the paper's gender-specific bins assume. Each corpus carries the traps
its real counterpart has:

- IEMOCAP: five sessions with one female and one male speaker each; dialog names with
  suffixes (``Ses03M_impro05a``, ``Ses05M_script01_1b``); the speaker's gender only in the
  segment after the last underscore; EmoEvaluation files with per-annotator lines and
  labels outside the 4-way set (``fru``, ``sur``, ``xxx`` ...); ``Categorical/`` subfolders
  with other ``.txt`` files; AppleDouble ``._*`` files next to the real ones.
- FAU-Aibo: children of two schools (Ohm = train, Mont = test), 5 classes with N dominant.
- VCTK 0.92: 48 kHz FLAC from two microphones; p280 has no mic2, p315 has no text.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from audioreason.world import speech
from audioreason.world.common import place, write_audio

# IEMOCAP label distribution (roughly the corpus' own, which is dominated by neu/fru/xxx).
IEMOCAP_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
IEMOCAP_WEIGHTS = (0.22, 0.08, 0.12, 0.13, 0.13, 0.14, 0.03, 0.02, 0.01, 0.01, 0.11)
IEMOCAP_CATEGORY = {"neu": "Neutral state", "hap": "Happiness", "exc": "Excited", "sad": "Sadness", "ang": "Anger",
                    "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other"}
IEMOCAP_4WAY = {"neu": "neu", "hap": "hap", "exc": "hap", "sad": "sad", "ang": "ang"}
# A dialog list per session in the corpus' naming, suffixes included.
IEMOCAP_DIALOGS = ("impro01", "script01_1", "impro05a", "script01_1b", "impro03", "script02_2", "impro08", "script03_1")

FAU_CLASSES = ("A", "E", "N", "P", "R")
FAU_WEIGHTS = (0.12, 0.2, 0.4, 0.12, 0.16)

VCTK_ACCENTS = (("English", "Southern England"), ("Scottish", "Edinburgh"), ("Irish", "Dublin"),
                ("American", "Connecticut"), ("Welsh", "Cardiff"), ("Canadian", "Toronto"))


def _sentence(rng: np.random.Generator, lo: int = 3, hi: int = 6) -> list[str]:
    return [speech.LEXICON[i] for i in rng.integers(len(speech.LEXICON), size=int(rng.integers(lo, hi + 1)))]


def _text(words: list[str]) -> str:
    return " ".join(words).capitalize() + "."


def write_iemocap(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
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
            transcript = []
            t = 5.0 + float(rng.uniform(0, 3))
            turn = {"F": 0, "M": 0}
            for u in range(icfg.utterances_per_dialog):
                g = "F" if rng.random() < 0.5 else "M"
                utt = f"{dialog}_{g}{turn[g]:03d}"
                turn[g] += 1
                code = IEMOCAP_CODES[int(rng.choice(len(IEMOCAP_CODES), p=IEMOCAP_WEIGHTS))]
                emotion = speech.EMOTION_CODES[code]
                words = _sentence(rng)
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
                transcript.append(f"{utt} [{t:08.4f}-{t + dur:08.4f}]: {_text(words)}")
                t += dur + float(rng.uniform(0.2, 1.5))
                expected["raw"][code] = expected["raw"].get(code, 0) + 1
                if code in IEMOCAP_4WAY:
                    lab = IEMOCAP_4WAY[code]
                    expected["labels"][lab] = expected["labels"].get(lab, 0) + 1
                    expected["records"] += 1
                    expected["speakers"][f"Ses{s:02d}_{g}"] = g  # speakers with a 4-way utterance
                else:
                    expected["filtered"] += 1
                truth.append({"dataset": "iemocap", "split": "test" if s == 5 else "train",
                              "clip": f"iemocap/IEMOCAP_full_release/Session{s}/sentences/wav/{dialog}/{utt}.wav",
                              "emotion": emotion, "code": code, "gender": g, "speaker": spk[g].id, "words": words})
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
            (tr / f"{dialog}.txt").write_text("\n".join(transcript) + "\n")
            expected["appledouble"] = expected.get("appledouble", 0) + 2
    return expected


def write_fau_aibo(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """``fau_aibo/labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt`` and ``fau_aibo/wav/``."""
    fcfg = cfg.fau_aibo
    root = out / "fau_aibo"
    lines, expected = [], {"labels": {}, "records": 0}
    for school, n_chunks, sseq in (("Ohm", fcfg.ohm_chunks, seed_seq.spawn(2)[0]), ("Mont", fcfg.mont_chunks, seed_seq.spawn(2)[1])):
        rng = np.random.default_rng(sseq)
        n_speakers = max(2, n_chunks // 10)
        # Children aged 10-13: both genders speak with a child's pitch and formants.
        children = [dataclasses.replace(speech.make_speaker(rng, f"{school}_{k + 1:02d}", "F" if k % 2 else "M"),
                                        f0_hz=float(rng.uniform(230, 300)), formant_scale=float(rng.uniform(1.2, 1.3)))
                    for k in range(n_speakers)]
        turns = {c.id: 0 for c in children}
        for _ in tqdm(range(n_chunks), desc=f"world fau_aibo/{school}", leave=False, disable=None):
            child = children[int(rng.integers(n_speakers))]
            turns[child.id] += 1
            chunk = f"{child.id}_{turns[child.id]:03d}_00"
            cls = FAU_CLASSES[int(rng.choice(5, p=FAU_WEIGHTS))]
            x = speech.speak(rng, fcfg.sample_rate, _sentence(rng, 1, 3), child, speech.EMOTION_CODES[cls])
            write_audio(root / "wav" / f"{chunk}.wav", x, fcfg.sample_rate)
            lines.append(f"{chunk} {cls} {rng.uniform(0.4, 1.0):.2f}")
            expected["labels"][cls] = expected["labels"].get(cls, 0) + 1
            expected["records"] += 1
            truth.append({"dataset": "fau_aibo", "split": "train" if school == "Ohm" else "test",
                          "clip": f"fau_aibo/wav/{chunk}.wav", "emotion": speech.EMOTION_CODES[cls], "speaker": child.id})
    lab = root / "labels" / "IS2009EmotionChallenge"
    lab.mkdir(parents=True, exist_ok=True)
    (lab / "chunk_labels_5cl_corpus.txt").write_text("\n".join(lines) + "\n")
    return expected


def _mic2(x: np.ndarray) -> np.ndarray:
    """The second VCTK microphone: further away, duller (one-pole low-pass) and quieter."""
    from scipy.signal import lfilter

    return (0.7 * lfilter([0.35], [1.0, -0.65], x)).astype(np.float32)


def write_vctk(out: Path, cfg, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
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
            words = _sentence(rng)
            x = speech.speak(rng, vcfg.sample_rate, words, spk, "neutral")
            wav = root / "wav48_silence_trimmed" / sid
            write_audio(wav / f"{sid}_{u:03d}_mic1.flac", x, vcfg.sample_rate, fmt="FLAC")
            if sid != "p280":
                write_audio(wav / f"{sid}_{u:03d}_mic2.flac", _mic2(x), vcfg.sample_rate, fmt="FLAC")
            else:
                expected["no_mic2"] += 1
            if sid != "p315":
                (root / "txt" / sid).mkdir(parents=True, exist_ok=True)
                (root / "txt" / sid / f"{sid}_{u:03d}.txt").write_text(_text(words) + "\n")
            else:
                expected["no_text"] += 1
            expected["records"] += 1
            truth.append({"dataset": "vctk", "split": "all", "clip": f"vctk/wav48_silence_trimmed/{sid}/{sid}_{u:03d}_mic1.flac",
                          "speaker": sid, "gender": gender, "words": words, "text": _text(words)})
    root.mkdir(parents=True, exist_ok=True)
    (root / "speaker-info.txt").write_text("\n".join(info) + "\n")
    return expected


def desed_speech(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """DESED's ``Speech`` class: a random speaker saying a short sentence, cut to ``seconds``."""
    spk = speech.make_speaker(rng, "desed", "F" if rng.random() < 0.5 else "M")
    x = speech.speak(rng, sr, _sentence(rng, 2, 4), spk, "neutral")
    out = np.zeros(int(round(sr * seconds)), dtype=np.float32)
    place(out, x, 0)
    return out
