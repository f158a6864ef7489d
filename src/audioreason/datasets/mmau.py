"""MMAU test-mini importer (FORMATS.md, "MMAU").

A JSON list; each item has ``id``, ``audio_id`` (``./test-mini-audios/<id>.wav``, relative
to the folder the release unpacks to), ``question``, ``choices``, ``answer`` (one of the
choices), ``task``, ``category`` (13 items hold it as a one-element list),
``sub-category`` and ``difficulty``; key order varies. Evaluated in every paper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from audioreason.datasets.records import QARecord, RecordError, read_json_list

REQUIRED = ("audio_id", "question", "choices", "answer", "task")
TASKS = {"sound", "music", "speech"}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_mmau(path: str | Path, audio_root: str | Path, *, split: str = "test-mini",
              check_audio_exists: bool = True) -> list[QARecord]:
    """Read an MMAU JSON list into records.

    Raises:
        RecordError: naming the file and the item (index and id) for a missing key,
            choices that are not a list of strings, an answer not among the choices, an
            unknown task, or (with ``check_audio_exists``) a missing audio file.
    """
    path, audio_root = Path(path), Path(audio_root)
    raw = read_json_list(path, "MMAU")
    out = []
    for i, r in enumerate(raw):
        ident = r.get("id", r.get("audio_id")) if isinstance(r, dict) else None
        where = f"#{i} (id {ident})"
        if not isinstance(r, dict):
            raise RecordError(path, where, "item is not an object")
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise RecordError(path, where, f"missing key(s) {', '.join(missing)}")
        choices = r["choices"]
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or len(choices) < 2:
            raise RecordError(path, where, f"choices must be a list of at least two strings, got {choices!r}")
        if r["answer"] not in choices:
            raise RecordError(path, where, f"answer {r['answer']!r} is not among the choices {choices}")
        if r["task"] not in TASKS:
            raise RecordError(path, where, f"task {r['task']!r} is not one of {sorted(TASKS)}")
        category = r.get("category", "")
        if isinstance(category, list):
            category = category[0] if len(category) == 1 else ", ".join(map(str, category))
        audio = (audio_root / r["audio_id"]).resolve()
        if check_audio_exists and not audio.is_file():
            raise RecordError(path, where, f"audio file {audio} does not exist")
        out.append(QARecord(
            id=str(ident), dataset="mmau", split=str(r.get("split", split)), audio=str(audio),
            question=str(r["question"]), choices=tuple(choices), answer=r["answer"], task=r["task"],
            category=str(category), sub_category=str(r.get("sub-category", "")),
            difficulty=str(r.get("difficulty", "")), source=f"{path}#{i}",
            extra={"audio_id": r["audio_id"], "dataset": r.get("dataset", "")},
        ))
    return out
