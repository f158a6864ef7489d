"""CoTA-format (Audio-Reasoner) chain-of-thought items of the world, as a Hugging Face parquet.

Paper 01 §3.1 textualizes CoTA: each item is an audio question with options inline and
an assistant turn in four stages (PLANNING, CAPTION, REASONING, SUMMARY) inside
``<THINK>``, then ``<RESPONSE>… The answer is X.</RESPONSE>`` (read by
:mod:`audioreason.datasets.cota`). The world writes
``cota/data/train-00000-of-00001.parquet`` with the ``audio`` column as the ``datasets``
library stores its ``Audio`` feature (a struct of WAV ``bytes`` and ``path``),
upper-case tags in most items and lower-case ones in some (as in copies of the dataset),
and a configurable fraction of defects like the public copy: the trace of another
question under this question (a question/answer mismatch the importer must catch).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf
from tqdm.auto import tqdm

from audioreason.config import WorldConfig
from audioreason.world.captions import caption_for
from audioreason.world.scenes import KINDS, render, shuffled_options

LETTERS = "abcdefgh"
FOCUS = {
    "source": "the sound source",
    "count": "how many times the event repeats",
    "order": "which event comes first",
    "instrument": "the instrument's timbre",
    "tempo": "how fast the notes follow each other",
    "speaker": "the pitch and timbre of the voice",
    "n_speakers": "how many different voices take turns",
}


def _trace(question: str, choices: list[str], answer: str, truth: dict, kind: str) -> tuple[str, str, str, str, str]:
    """The four stages and the response of a faithful trace for one question."""
    k = choices.index(answer)
    letter = LETTERS[k]
    caption = caption_for({**truth, "kind": kind})
    planning = (
        f"The question asks: {question} I will listen for {FOCUS[kind]}, describe what I hear, "
        f"then compare it with each option."
    )
    others = [f"({LETTERS[i]}) {c}" for i, c in enumerate(choices) if i != k]
    reasoning = (
        f"The clip contains what the caption describes. That matches {answer}; "
        f"the other options ({', '.join(o.split(') ', 1)[1] for o in others)}) do not fit what is heard."
    )
    summary = f"The audio supports one option only, so the answer is ({letter}) {answer}."
    response = f"Based on the audio, it is {answer}. The answer is {letter.upper()}."
    return planning, caption, reasoning, summary, response


def _assistant(parts: tuple[str, str, str, str, str], lower: bool) -> str:
    """The assistant turn in CoTA's tags, upper- or lower-case."""
    planning, caption, reasoning, summary, response = parts
    t = (lambda s: s.lower()) if lower else (lambda s: s)
    return (
        f"<{t('THINK')}>\n<{t('PLANNING')}>{planning}</{t('PLANNING')}>\n<{t('CAPTION')}>{caption}</{t('CAPTION')}>\n"
        f"<{t('REASONING')}>{reasoning}</{t('REASONING')}>\n<{t('SUMMARY')}>{summary}</{t('SUMMARY')}>\n</{t('THINK')}>\n"
        f"<{t('RESPONSE')}>{response}</{t('RESPONSE')}>"
    )


def write_cota(out: Path, cfg: WorldConfig, seed_seq: np.random.SeedSequence, truth: list[dict]) -> dict:
    """Write the parquet; append one ground-truth line per item (``defect`` marks the mismatched ones) to ``truth``.

    Returns:
        Expected importer counts: ``records`` kept and defects to be ``quarantined``.
    """
    ccfg = cfg.cota
    rng = np.random.default_rng(seed_seq)
    items = []
    for i, seq in enumerate(tqdm(seed_seq.spawn(ccfg.items), desc="world cota", leave=False, disable=None)):
        crng = np.random.default_rng(seq)
        kind = KINDS[i % len(KINDS)]
        scene = render(kind, crng, ccfg.sample_rate, cfg.clip_seconds)
        choices = shuffled_options(crng, scene, 4)
        buf = io.BytesIO()
        sf.write(buf, scene.audio, ccfg.sample_rate, subtype="PCM_16", format="WAV")
        items.append(
            {
                "id": f"cota-{i:06d}",
                "kind": kind.name,
                "question": scene.mmau_question,
                "choices": choices,
                "answer": scene.answer,
                "truth": scene.truth,
                "wav": buf.getvalue(),
            }
        )
    # Defects: item i carries the trace of another item j whose named option contradicts i's options.
    n_defects = int(round(ccfg.defect_rate * len(items)))
    defect_of: dict[int, int] = {}
    for i in rng.permutation(len(items)):
        if len(defect_of) == n_defects:
            break
        for j in rng.permutation(len(items)):
            a, b = items[int(i)], items[int(j)]
            k = b["choices"].index(b["answer"])
            if j != i and (k >= len(a["choices"]) or a["choices"][k] != b["answer"]):
                defect_of[int(i)] = int(j)
                break
    ids, audio, users, assistants = [], [], [], []
    for i, it in enumerate(items):
        src = items[defect_of.get(i, i)]
        parts = _trace(src["question"], src["choices"], src["answer"], src["truth"], src["kind"])
        options = " ".join(f"({LETTERS[k]}) {c}" for k, c in enumerate(it["choices"]))
        ids.append(it["id"])
        audio.append({"bytes": it["wav"], "path": f"{it['id']}.wav"})
        users.append(f"<audio>\n{it['question']} {options}")
        assistants.append(_assistant(parts, lower=bool(rng.random() < 0.15)))
        truth.append(
            {
                "dataset": "cota",
                "split": "train",
                "clip": f"cota#{it['id']}",
                "kind": it["kind"],
                "answer": it["answer"],
                "defect": i in defect_of,
                **it["truth"],
            }
        )
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "audio": pa.array(audio, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "user": pa.array(users, pa.string()),
            "assistant": pa.array(assistants, pa.string()),
        }
    )
    path = out / "cota" / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return {"records": len(items) - len(defect_of), "quarantined": len(defect_of)}
