"""AVQA importer (``train_qa.json`` / ``val_qa.json`` + ``audio/<video_name>.wav``).

Format (FORMATS.md, "AVQA"): a JSON list of records with ``id``, ``video_name``
(``{ytid}_{start:06d}``; ytids contain ``-`` and ``_``, so split on the LAST underscore),
``video_id``, ``question_text``, ``multi_choice`` (4 strings, may hold null), ``answer``
(0-based index), ``question_relation`` and ``question_type``. Papers 02 and 03 train on
it; paper 03 §III.A and R1-AQA put it to the model as an audio question, so the
audio variant replaces "video" with "audio" in the question. The question as AVQA writes
it stays in ``extra["question_text"]``: paper 02 §3.1 / §4.1 asks the vision teacher the
original question about the silent video ("retaining paired silent-video prompts for LVLM
reasoning").
"""

from __future__ import annotations

import re
from pathlib import Path

from audioreason.datasets.records import ImportResult, Problems, QARecord, read_json_list

REQUIRED = ("id", "video_name", "question_text", "multi_choice", "answer")
_VIDEO_WORD = re.compile(r"\bvideo\b", re.IGNORECASE)


def split_video_name(video_name: str) -> tuple[str, int]:
    """``"-HG3Omg_89c_000030"`` -> ``("-HG3Omg_89c", 30)``.

    >>> split_video_name("a_b-c_000120")
    ('a_b-c', 120)
    """
    ytid, _, start = video_name.rpartition("_")
    if not ytid or not start.isdigit():
        raise ValueError(f"video_name {video_name!r} is not '<ytid>_<start:06d>'")
    return ytid, int(start)


def to_audio_question(question: str) -> str:
    """The audio variant of an AVQA question: "video" -> "audio" (case kept for a leading capital)."""
    return _VIDEO_WORD.sub(lambda m: "Audio" if m.group(0)[0].isupper() else "audio", question)


def read_avqa(
    qa_json: str | Path,
    audio_dir: str | Path,
    split: str,
    *,
    audio_variant: bool = True,
    check_audio_exists: bool = True,
    on_error: str = "raise",
) -> ImportResult[QARecord]:
    """Read one AVQA split into records.

    Null entries of ``multi_choice`` are dropped (the answer index refers to the
    original four slots and is mapped accordingly).

    A malformed record (missing key, malformed ``video_name``, answer index outside the
    choices or pointing at a null, duplicate choices or ids, missing audio file) is a
    :class:`~audioreason.datasets.records.RecordError` naming the file and the record
    (index and id): raised, or quarantined with ``on_error="quarantine"``.
    """
    qa_json, audio_dir = Path(qa_json), Path(audio_dir)
    problems = Problems(on_error)
    raw = read_json_list(qa_json, "AVQA")
    out, seen = [], set()
    for i, r in enumerate(raw):
        where = f"#{i} (id {r.get('id') if isinstance(r, dict) else '?'})"
        if not isinstance(r, dict):
            problems.bad(qa_json, where, "record is not an object")
            continue
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            problems.bad(qa_json, where, f"missing key(s) {', '.join(missing)}")
            continue
        if isinstance(r["id"], bool) or not isinstance(r["id"], int):
            problems.bad(qa_json, where, f"id must be an integer, got {type(r['id']).__name__} {r['id']!r}")
            continue
        if r["id"] in seen:
            problems.bad(qa_json, where, f"duplicate id {r['id']}")
            continue
        try:
            ytid, start = split_video_name(str(r["video_name"]))
        except ValueError as e:
            problems.bad(qa_json, where, str(e))
            continue
        mc = r["multi_choice"]
        if not isinstance(mc, list) or not mc or not all(c is None or isinstance(c, str) for c in mc):
            problems.bad(qa_json, where, f"multi_choice must be a non-empty list of strings or nulls, got {mc!r}")
            continue
        ans = r["answer"]
        if isinstance(ans, bool) or not isinstance(ans, int) or not 0 <= ans < len(mc):
            problems.bad(qa_json, where, f"answer {ans!r} is not an index into multi_choice ({len(mc)} options)")
            continue
        if mc[ans] is None:
            problems.bad(qa_json, where, f"answer {ans} points at a null choice")
            continue
        choices = tuple(c for c in mc if c is not None)
        if len(set(choices)) != len(choices):
            problems.bad(qa_json, where, f"duplicate choices {list(choices)}")
            continue
        if not isinstance(r["question_text"], str) or not r["question_text"].strip():
            problems.bad(qa_json, where, f"question_text must be a non-empty string, got {r['question_text']!r}")
            continue
        audio = audio_dir / f"{r['video_name']}.wav"
        if problems.audio_missing(qa_json, where, audio, check_audio_exists):
            continue
        seen.add(r["id"])
        question = r["question_text"]
        out.append(
            QARecord(
                id=str(r["id"]),
                dataset="avqa",
                split=split,
                audio=str(audio.resolve()),
                question=to_audio_question(question) if audio_variant else question,
                choices=choices,
                answer=mc[ans],
                task="",
                category=str(r.get("question_relation", "")),
                sub_category=str(r.get("question_type", "")),
                difficulty="",
                source=f"{qa_json}#{i}",
                extra={
                    "video_name": r["video_name"],
                    "ytid": ytid,
                    "start_s": start,
                    "video_id": r.get("video_id"),
                    "question_text": question,
                },
            )
        )
    return problems.result("avqa", out)


def read(
    path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True, audio_variant: bool = True
) -> ImportResult[QARecord]:
    """Registry entry: ``path`` is ``<split>_qa.json``; audio in ``<its folder>/audio/``."""
    path = Path(path)
    split = path.stem.removesuffix("_qa") or "train"
    return read_avqa(
        path,
        path.parent / "audio",
        split,
        audio_variant=audio_variant,
        check_audio_exists=check_audio_exists,
        on_error=on_error,
    )
