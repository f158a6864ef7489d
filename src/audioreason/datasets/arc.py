"""ARC (AI2 Reasoning Challenge) importer: text-only multiple-choice science questions.

Paper 03 §IV.C (Table II) fine-tunes with GRPO on ARC-Easy [28] with no audio at all. The
release (``ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-{Train,Dev,Test}.jsonl``, and the same for
ARC-Challenge) holds one JSON object per line::

    {"id": "MCAS_2000_4_6",
     "question": {"stem": "Which technology was developed most recently?",
                  "choices": [{"text": "cellular telephone", "label": "A"}, ...]},
     "answerKey": "A"}

Labels are ``A``-``D`` for most questions and ``1``-``4`` for some; fewer than 1% of the
questions have three or five choices. The answer is the text of the choice whose label is
``answerKey``. Sources: the layout and an example line in the README of allenai/ARC-Solvers
(https://github.com/allenai/ARC-Solvers, commit 8f21cb8) and its reader
``arc_solvers/data/dataset_readers/arc_multichoice_json_reader.py`` (commit 4dfae00), which
maps ``answerKey`` to the choice with that label; the split sizes of ARC-Easy (2251 train,
570 validation, 2376 test) and the Hugging Face copy's columns (``id``, ``question`` as the
stem, ``choices`` as ``{"text": [...], "label": [...]}``, ``answerKey``) in the dataset
card of https://huggingface.co/datasets/allenai/ai2_arc; numeric labels and the 3- or
5-choice share in eugenesiow/LLM-Insights ``evaluation/reasoning/arc.md``.

``PATH`` is one release file, a folder (every ``*-Train/Dev/Test.jsonl`` in it, sorted), or
a Hugging Face parquet file. Records are :class:`~audioreason.datasets.records.QARecord`
with no audio (``audio == ""``: text-only records; validate them with ``audio: false``),
``dataset`` ``arc_easy`` / ``arc_challenge`` (from the file name, else ``arc``), ``split``
``train`` / ``val`` / ``test`` (from ``Train`` / ``Dev`` / ``Test`` in the file name; the
parquet's ``train`` / ``validation`` / ``test``), no task, category or difficulty, and the
labels kept in ``extra`` (``labels``, ``answer_key``).

A line that is not a JSON object, a missing or mistyped key, an empty stem, fewer than two
choices, an empty or repeated choice text, a repeated label, an ``answerKey`` that matches
no label, or a duplicate id is a ``RecordError`` naming the file and the line: raised, or
quarantined and counted with ``on_error="quarantine"``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from audioreason.datasets.records import ImportResult, Problems, QARecord

FORMAT = "arc"
#: Split word in a release file name -> the record's split.
SPLIT_WORDS = {"Train": "train", "Dev": "val", "Test": "test", "train": "train", "validation": "val", "test": "test"}
_RELEASE_NAME = re.compile(r"^ARC-(Easy|Challenge)-(Train|Dev|Test)\.jsonl$")


def _dataset_and_split(path: Path) -> tuple[str, str]:
    """``(dataset, split)`` named by a release file (``ARC-Easy-Train.jsonl``) or a parquet path."""
    m = _RELEASE_NAME.match(path.name)
    if m:
        return f"arc_{m.group(1).lower()}", SPLIT_WORDS[m.group(2)]
    text = str(path)
    dataset = "arc_easy" if "ARC-Easy" in text else "arc_challenge" if "ARC-Challenge" in text else "arc"
    words = re.findall(r"[A-Za-z]+", path.stem)
    split = next((SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS), "train")
    return dataset, split


def _record(raw: Any) -> tuple[str, str, list[str], list[str], str]:
    """``(id, stem, texts, labels, answer key)`` of one release line (or parquet row, made alike).

    Raises:
        ValueError: naming what is wrong with the line.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    missing = [k for k in ("id", "question", "answerKey") if k not in raw]
    if missing:
        raise ValueError(f"missing key(s) {', '.join(missing)}")
    ident, question, key = raw["id"], raw["question"], raw["answerKey"]
    if not isinstance(ident, str) or not ident:
        raise ValueError(f"id must be a non-empty string, got {ident!r}")
    if not isinstance(question, dict) or not isinstance(question.get("stem"), str):
        raise ValueError(f"question must be an object with a string 'stem', got {question!r}")
    stem, choices = question["stem"].strip(), question.get("choices")
    if not stem:
        raise ValueError("empty question stem")
    if not isinstance(choices, list) or len(choices) < 2:
        raise ValueError(f"question.choices must be a list of at least two choices, got {choices!r}")
    texts, labels = [], []
    for j, c in enumerate(choices):
        if not isinstance(c, dict) or not isinstance(c.get("text"), str) or not isinstance(c.get("label"), str):
            raise ValueError(f"choice {j} must be an object with string 'text' and 'label', got {c!r}")
        texts.append(c["text"].strip())
        labels.append(c["label"].strip())
    if not all(texts) or len(set(texts)) != len(texts):
        raise ValueError(f"choice texts must be non-empty and distinct, got {texts}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"choice labels must be distinct, got {labels}")
    if not isinstance(key, str) or key.strip() not in labels:
        raise ValueError(f"answerKey {key!r} matches no choice label {labels}")
    return ident, stem, texts, labels, key.strip()


def _release_lines(path: Path, problems: Problems) -> list[tuple[int, Any]]:
    """``(line number, decoded object)`` of a JSONL file; undecodable lines are bad records."""
    out = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append((lineno, json.loads(line)))
            except json.JSONDecodeError as e:
                problems.bad(path, f"line {lineno}", f"not a JSON line ({e})")
    return out


def _parquet_rows(path: Path, problems: Problems) -> list[tuple[int, Any]]:
    """The Hugging Face copy's rows as release lines (``question`` the stem, ``choices`` column-wise)."""
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for a corrupt file
        problems.bad(path, "(file)", f"cannot read parquet ({e})")
        return []
    out = []
    for i, row in enumerate(rows):
        choices = row.get("choices")
        if (
            isinstance(choices, dict)
            and isinstance(choices.get("text"), list)
            and isinstance(choices.get("label"), list)
        ):
            if len(choices["text"]) == len(choices["label"]):
                choices = [{"text": t, "label": lab} for t, lab in zip(choices["text"], choices["label"])]
        raw = {"id": row.get("id"), "question": {"stem": row.get("question"), "choices": choices}}
        if "answerKey" in row:
            raw["answerKey"] = row["answerKey"]
        out.append((i, raw))
    return out


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.glob("*.jsonl") if _RELEASE_NAME.match(p.name))
    return [path]


def read_arc(path: str | Path, *, on_error: str = "raise") -> ImportResult[QARecord]:
    """Read an ARC release file, a folder of them, or the Hugging Face parquet into text-only records."""
    path = Path(path)
    problems = Problems(on_error)
    out: list[QARecord] = []
    seen: set[tuple[str, str]] = set()
    files = _files(path)
    if not files:
        problems.bad(path, "(folder)", "no ARC-{Easy,Challenge}-{Train,Dev,Test}.jsonl file in it")
    for file in files:
        dataset, split = _dataset_and_split(file)
        parquet = file.suffix == ".parquet"
        rows = _parquet_rows(file, problems) if parquet else _release_lines(file, problems)
        for n, raw in rows:
            ident = raw.get("id") if isinstance(raw, dict) else None
            where = f"row {n} (id {ident})" if parquet else f"line {n} (id {ident})"
            try:
                ident, stem, texts, labels, key = _record(raw)
            except ValueError as e:
                problems.bad(file, where, str(e))
                continue
            if (dataset, ident) in seen:
                problems.bad(file, where, f"duplicate id {ident}")
                continue
            seen.add((dataset, ident))
            out.append(
                QARecord(
                    id=ident,
                    dataset=dataset,
                    split=split,
                    audio="",
                    question=stem,
                    choices=tuple(texts),
                    answer=texts[labels.index(key)],
                    source=f"{file}#{n}",
                    extra={"labels": labels, "answer_key": key},
                )
            )
    return problems.result(FORMAT, out)


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[QARecord]:
    """Registry entry: ``path`` is a release JSONL, a folder of them, or a parquet file (no audio to check)."""
    return read_arc(path, on_error=on_error)
