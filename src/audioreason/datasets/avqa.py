"""AVQA importer (``train_qa.json`` / ``val_qa.json`` + ``audio/<video_name>.wav``).

Format (FORMATS.md, "AVQA"): a JSON list of records with ``id``, ``video_name``
(``{ytid}_{start:06d}``; ytids contain ``-`` and ``_``, so split on the LAST underscore),
``video_id``, ``question_text``, ``multi_choice`` (4 strings, may hold null), ``answer``
(0-based index), ``question_relation`` and ``question_type``. Papers 02 and 03 train on
it; paper 03 §III.A and R1-AQA put it to the model as an audio question, so the
audio variant replaces "video" with "audio" in the question.
"""

from __future__ import annotations

import re
from pathlib import Path

from audioreason.datasets.records import QARecord, RecordError, read_json_list

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


def read_avqa(qa_json: str | Path, audio_dir: str | Path, split: str, *, audio_variant: bool = True,
              check_audio_exists: bool = True) -> list[QARecord]:
    """Read one AVQA split into records.

    Null entries of ``multi_choice`` are dropped (the answer index refers to the
    original four slots and is mapped accordingly).

    Raises:
        RecordError: naming the file and record (index and id) for a missing key, a
            malformed ``video_name``, an answer index outside the choices or pointing at
            a null, duplicate choices, or a missing audio file.
    """
    qa_json, audio_dir = Path(qa_json), Path(audio_dir)
    raw = read_json_list(qa_json, "AVQA")
    out = []
    for i, r in enumerate(raw):
        where = f"#{i} (id {r.get('id') if isinstance(r, dict) else '?'})"
        if not isinstance(r, dict):
            raise RecordError(qa_json, where, "record is not an object")
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise RecordError(qa_json, where, f"missing key(s) {', '.join(missing)}")
        try:
            ytid, start = split_video_name(str(r["video_name"]))
        except ValueError as e:
            raise RecordError(qa_json, where, str(e)) from e
        mc = r["multi_choice"]
        if not isinstance(mc, list) or not mc:
            raise RecordError(qa_json, where, f"multi_choice must be a non-empty list, got {mc!r}")
        ans = r["answer"]
        if isinstance(ans, bool) or not isinstance(ans, int) or not 0 <= ans < len(mc):
            raise RecordError(qa_json, where, f"answer {ans!r} is not an index into multi_choice ({len(mc)} options)")
        if mc[ans] is None:
            raise RecordError(qa_json, where, f"answer {ans} points at a null choice")
        choices = tuple(str(c) for c in mc if c is not None)
        if len(set(choices)) != len(choices):
            raise RecordError(qa_json, where, f"duplicate choices {list(choices)}")
        audio = audio_dir / f"{r['video_name']}.wav"
        if check_audio_exists and not audio.is_file():
            raise RecordError(qa_json, where, f"audio file {audio} does not exist")
        question = str(r["question_text"])
        out.append(QARecord(
            id=str(r["id"]), dataset="avqa", split=split, audio=str(audio.resolve()),
            question=to_audio_question(question) if audio_variant else question,
            choices=choices, answer=str(mc[ans]),
            task="", category=str(r.get("question_relation", "")), sub_category=str(r.get("question_type", "")),
            difficulty="", source=f"{qa_json}#{i}",
            extra={"video_name": r["video_name"], "ytid": ytid, "start_s": start, "video_id": r.get("video_id")},
        ))
    return out
