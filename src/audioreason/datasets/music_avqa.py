"""MUSIC-AVQA importer (``json_update/avqa-{train,val,test}.json`` + ``audio/<video_id>.wav``).

Format (FORMATS.md, "MUSIC-AVQA"): each split is one JSON list of records with
``video_id`` (``"00000108"``, ``"vv00003078"``), ``question_id`` (int), ``type`` (a
JSON-encoded string ``'["Audio", "Comparative"]'``), ``question_content`` (a template with
the placeholders ``<Object> <LR> <FL> <TH> <LRer> <LL> <BA>``), ``templ_values`` (a
JSON-encoded list of strings), ``question_deleted`` (0/1) and ``anser`` (sic: the answer key
is misspelled in the release). Used as an open-vocabulary audio-visual benchmark
(accuracy per type, per modality group, overall).

Traps handled:

* ``type`` and ``templ_values`` are JSON *inside* JSON: decoded here; malformed JSON is a
  bad record.
* The question is rebuilt with the official rule (:func:`substitute_question`), which
  drops the last character of the last word unconditionally: that is the question mark,
  ASCII ``?`` or the full-width ``？`` that 203 val questions end with, and 288 val
  templates carry a trailing space that ``rstrip`` removes first. Template values beyond
  the placeholders are ignored, as in the official loader; too few are a bad record.
* ``question_deleted == 1`` records are left out by the official protocol: filtered and
  counted as ``question_deleted``, not errors.
* A type outside the official nine (:data:`QUESTION_TYPES`), an answer outside the
  42-word vocabulary (:data:`ANSWER_VOCAB`), a missing key, a duplicate ``question_id``
  or (with ``check_audio_exists``) a missing audio file is a bad record naming the file
  and the record (index, question id).

Layout read::

    <root>/json_update/avqa-train.json
    <root>/json_update/avqa-val.json
    <root>/json_update/avqa-test.json
    <root>/audio/<video_id>.wav

``PATH`` is one of the JSON files (the split comes from its name) or the ``json_update/``
folder (every split file present, in the order train, val, test).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from audioreason.datasets.records import ImportResult, OpenQARecord, Problems, RecordError, read_json_list

FORMAT = "music_avqa"
SPLITS = ("train", "val", "test")
REQUIRED = ("video_id", "question_id", "type", "question_content", "templ_values", "question_deleted", "anser")

#: Modality group -> question types: the nine official MUSIC-AVQA question types.
QUESTION_TYPES: dict[str, tuple[str, ...]] = {
    "Audio": ("Counting", "Comparative"),
    "Visual": ("Counting", "Location"),
    "Audio-Visual": ("Existential", "Counting", "Location", "Comparative", "Temporal"),
}
#: The nine types as ``"<group>/<type>"`` (the keys of per-type accuracy).
GROUP_TYPES: tuple[str, ...] = tuple(f"{g}/{t}" for g, types in QUESTION_TYPES.items() for t in types)

# The 42-word answer vocabulary. 41 words are the distinct ``anser`` values of the real
# val file (reference/music-avqa/avqa-val.json, 4568 records); "ten" is the one word of
# the count scale zero..ten, "more than ten" that val never uses, which completes the 42.
ANSWER_VOCAB: tuple[str, ...] = (
    "yes",
    "no",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "more than ten",
    "left",
    "middle",
    "right",
    "indoor",
    "outdoor",
    "simultaneously",
    "accordion",
    "acoustic_guitar",
    "bagpipe",
    "banjo",
    "bassoon",
    "cello",
    "clarinet",
    "congas",
    "drum",
    "electric_bass",
    "erhu",
    "flute",
    "guzheng",
    "piano",
    "pipa",
    "saxophone",
    "suona",
    "trumpet",
    "tuba",
    "ukulele",
    "violin",
    "xylophone",
)

_SPLIT_FILE = re.compile(r"^avqa-(train|val|test)\.json$")


def substitute_question(question_content: str, templ_values: list[str] | tuple[str, ...]) -> str:
    """Fill a question template with its values, by the official MUSIC-AVQA rule.

    ``rstrip``, split on single spaces, drop the last character of the last word (the
    question mark), then replace each token that contains ``<`` with the next template
    value, in order. Extra values are ignored, as in the official loader.

    Raises:
        ValueError: when there are fewer values than placeholders.

    >>> substitute_question("Is the <Object> in the video always playing?", ["ukulele"])
    'Is the ukulele in the video always playing'
    >>> substitute_question("Is the <Object> on the <LR> louder than <Object>? ", ["piano", "left", "cello"])
    'Is the piano on the left louder than cello'
    >>> substitute_question("How many sounding <Object> in the video？", ["banjo"])
    'How many sounding banjo in the video'
    >>> substitute_question("Are there <Object> and <Object> sound?", ["drum"])
    Traceback (most recent call last):
    ...
    ValueError: template has 2 placeholder(s) but 1 value(s)
    """
    words = question_content.rstrip().split(" ")
    words[-1] = words[-1][:-1]
    n_placeholders = sum("<" in w for w in words)
    if n_placeholders > len(templ_values):
        raise ValueError(f"template has {n_placeholders} placeholder(s) but {len(templ_values)} value(s)")
    values = iter(templ_values)
    return " ".join(next(values) if "<" in w else w for w in words)


def group_type(record: OpenQARecord) -> str:
    """``"<group>/<type>"``, e.g. ``"Audio-Visual/Counting"``: the per-type accuracy key."""
    return f"{record.group}/{record.type}"


def split_of(path: str | Path) -> str:
    """The split named by an ``avqa-<split>.json`` file name.

    >>> split_of("json_update/avqa-val.json")
    'val'
    """
    m = _SPLIT_FILE.match(Path(path).name)
    if not m:
        raise RecordError(path, "(file)", "file name is not avqa-{train,val,test}.json, so the split is unknown")
    return m.group(1)


def _decode_json_field(r: dict, key: str):
    value = r[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a JSON-encoded string, got {type(value).__name__} {value!r}")
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"{key} {value!r} is not valid JSON ({e.msg})") from e


def _decode_type(r: dict) -> tuple[str, str]:
    t = _decode_json_field(r, "type")
    if not (isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t)):
        raise ValueError(f"type {r['type']!r} is not a [group, type] pair")
    group, qtype = t
    if qtype not in QUESTION_TYPES.get(group, ()):
        raise ValueError(f"type {group}/{qtype} is not one of the nine official types ({', '.join(GROUP_TYPES)})")
    return group, qtype


def _decode_templ_values(r: dict) -> tuple[str, ...]:
    v = _decode_json_field(r, "templ_values")
    if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        raise ValueError(f"templ_values {r['templ_values']!r} is not a list of strings")
    return tuple(v)


def read_split(
    path: str | Path,
    root: str | Path,
    problems: Problems,
    *,
    seen_ids: dict[str, str] | None = None,
    check_audio_exists: bool = True,
) -> list[OpenQARecord]:
    """Read one ``avqa-<split>.json`` into records; problems go to ``problems``.

    Args:
        path: The split's JSON file.
        root: The folder holding ``json_update/`` and ``audio/``.
        problems: Collects bad and filtered records.
        seen_ids: ``question_id -> source`` shared across splits, to catch duplicates.
        check_audio_exists: Whether a missing ``audio/<video_id>.wav`` is a bad record.
    """
    path, root = Path(path), Path(root)
    split = split_of(path)
    seen_ids = {} if seen_ids is None else seen_ids
    out = []
    for i, r in enumerate(read_json_list(path, "MUSIC-AVQA")):
        where = f"#{i} (question_id {r.get('question_id') if isinstance(r, dict) else '?'})"
        if not isinstance(r, dict):
            problems.bad(path, where, "record is not an object")
            continue
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            problems.bad(path, where, f"missing key(s) {', '.join(missing)}")
            continue
        deleted = r["question_deleted"]
        if deleted not in (0, 1) or isinstance(deleted, bool):
            problems.bad(path, where, f"question_deleted must be 0 or 1, got {deleted!r}")
            continue
        if deleted == 1:
            problems.filter("question_deleted")
            continue
        if not isinstance(r["question_content"], str) or not r["question_content"].strip():
            problems.bad(path, where, f"question_content must be a non-empty string, got {r['question_content']!r}")
            continue
        try:
            group, qtype = _decode_type(r)
            values = _decode_templ_values(r)
            question = substitute_question(r["question_content"], values)
        except ValueError as e:
            problems.bad(path, where, str(e))
            continue
        answer = r["anser"]
        if answer not in ANSWER_VOCAB:
            problems.bad(path, where, f"answer (anser) {answer!r} is not in the 42-word answer vocabulary")
            continue
        if isinstance(r["question_id"], bool) or not isinstance(r["question_id"], int):
            problems.bad(path, where, f"question_id must be an int, got {r['question_id']!r}")
            continue
        qid, video_id = str(r["question_id"]), str(r["video_id"])
        if qid in seen_ids:
            problems.bad(path, where, f"duplicate question_id {qid} (first at {seen_ids[qid]})")
            continue
        audio = root / "audio" / f"{video_id}.wav"
        if problems.audio_missing(path, where, audio, check_audio_exists):
            continue
        seen_ids[qid] = f"{path}#{i}"
        out.append(
            OpenQARecord(
                id=qid,
                dataset="music_avqa",
                split=split,
                audio=str(audio.resolve()),
                video_id=video_id,
                question=question,
                answer=answer,
                group=group,
                type=qtype,
                template=r["question_content"],
                templ_values=values,
                source=f"{path}#{i}",
            )
        )
    return out


def split_files(path: str | Path) -> list[Path]:
    """The split files ``PATH`` names: the file itself, or those present in the folder (train, val, test).

    Raises:
        FileNotFoundError: when a folder holds none of ``avqa-{train,val,test}.json``.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    files = [path / f"avqa-{s}.json" for s in SPLITS if (path / f"avqa-{s}.json").is_file()]
    if not files:
        raise FileNotFoundError(f"music_avqa: {path} holds none of avqa-{{train,val,test}}.json")
    return files


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult[OpenQARecord]:
    """Registry entry: ``path`` is ``json_update/avqa-<split>.json`` or the ``json_update/`` folder.

    Audio is looked up in ``<root>/audio/`` where ``<root>`` is the folder holding
    ``json_update/``.
    """
    problems = Problems(on_error)
    seen_ids: dict[str, str] = {}
    records = []
    for f in split_files(path):
        root = f.resolve().parent.parent
        records += read_split(f, root, problems, seen_ids=seen_ids, check_audio_exists=check_audio_exists)
    return problems.result(FORMAT, records)
