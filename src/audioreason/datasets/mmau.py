"""MMAU importer, test-mini and test-full (FORMATS.md, "MMAU").

A JSON list; each item has ``id``, ``audio_id`` (``./test-mini-audios/<id>.wav``, relative
to the folder the release unpacks to), ``question``, ``choices``, ``answer`` (one of the
choices), ``task``, ``category`` (13 items hold it as a one-element list),
``sub-category`` and ``difficulty``; key order varies. Evaluated in every paper.

The test-full split (``mmau-test.json``, 9,000 items; paper 03 Table I, Test-full) has the
same fields with ``split`` ``test``, ``audio_id`` ``./test-audios/<id>.wav`` and the answer
withheld: ``"answer": ""`` (the official README, https://github.com/Sakshi113/MMAU at commit
010c734: "The 9,000 test questions are available without their answers"; the field set of
that file as in its commit 3d87e5b, whose items carry ``"answer": ""``). Only there is an
empty (or absent) answer read, as ``answer=""`` with ``extra["answer_hidden"] = True``;
results come from uploading predictions
(:func:`audioreason.evaluation.mmau.write_submission`). A test-mini item without an answer
is a bad record.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from audioreason.datasets.records import ImportResult, Problems, QARecord, read_json_list

REQUIRED = ("audio_id", "question", "choices", "answer", "task")
TASKS = {"sound", "music", "speech"}
#: The split whose answers MMAU withholds (test-full).
HIDDEN_ANSWER_SPLIT = "test"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_mmau(
    path: str | Path,
    audio_root: str | Path,
    *,
    split: str = "test-mini",
    check_audio_exists: bool = True,
    on_error: str = "raise",
) -> ImportResult[QARecord]:
    """Read an MMAU JSON list into records.

    A missing key, choices that are not a list of at least two distinct strings, an
    answer not among the choices, an unknown task, a duplicate id or (with
    ``check_audio_exists``) a missing audio file is a ``RecordError`` naming the file and
    the item (index and id): raised, or quarantined with ``on_error="quarantine"``. An item
    of the test-full split (its ``split``, else ``split``, is ``test``) may have an empty or
    no answer: it is withheld, and read as ``answer=""`` with ``extra["answer_hidden"]``.
    """
    path, audio_root = Path(path), Path(audio_root)
    problems = Problems(on_error)
    raw = read_json_list(path, "MMAU")
    out, seen = [], set()
    for i, r in enumerate(raw):
        ident = r.get("id", r.get("audio_id")) if isinstance(r, dict) else None
        where = f"#{i} (id {ident})"
        if not isinstance(r, dict):
            problems.bad(path, where, "item is not an object")
            continue
        item_split = str(r.get("split", split))
        hidden = item_split == HIDDEN_ANSWER_SPLIT and r.get("answer", "") == ""
        missing = [k for k in REQUIRED if k not in r and not (hidden and k == "answer")]
        if missing:
            problems.bad(path, where, f"missing key(s) {', '.join(missing)}")
            continue
        choices = r["choices"]
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or len(choices) < 2:
            problems.bad(path, where, f"choices must be a list of at least two strings, got {choices!r}")
            continue
        if not hidden and r["answer"] not in choices:
            problems.bad(path, where, f"answer {r['answer']!r} is not among the choices {choices}")
            continue
        if r["task"] not in TASKS:
            problems.bad(path, where, f"task {r['task']!r} is not one of {sorted(TASKS)}")
            continue
        if str(ident) in seen:
            problems.bad(path, where, f"duplicate id {ident}")
            continue
        category = r.get("category", "")
        if isinstance(category, list):
            category = category[0] if len(category) == 1 else ", ".join(map(str, category))
        audio = (audio_root / r["audio_id"]).resolve()
        if problems.audio_missing(path, where, audio, check_audio_exists):
            continue
        seen.add(str(ident))
        out.append(
            QARecord(
                id=str(ident),
                dataset="mmau",
                split=item_split,
                audio=str(audio),
                question=str(r["question"]),
                choices=tuple(choices),
                answer="" if hidden else r["answer"],
                task=r["task"],
                category=str(category),
                sub_category=str(r.get("sub-category", "")),
                difficulty=str(r.get("difficulty", "")),
                source=f"{path}#{i}",
                extra={
                    "audio_id": r["audio_id"],
                    "dataset": r.get("dataset", ""),
                    **({"answer_hidden": True} if hidden else {}),
                },
            )
        )
    return problems.result("mmau", out)


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[QARecord]:
    """Registry entry: ``path`` is the MMAU JSON; ``audio_id`` is relative to its folder.

    Items without a ``split`` key take it from the file name: ``mmau-test.json`` (or
    ``mmau-test.<version>.json``) is test-full, anything else test-mini.
    """
    path = Path(path)
    split = "test" if path.name.split(".")[0] == "mmau-test" else "test-mini"
    return read_mmau(path, path.parent, split=split, check_audio_exists=check_audio_exists, on_error=on_error)
