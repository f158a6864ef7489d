"""FAU-Aibo Emotion Corpus importer, IS2009 5-class chunks (FORMATS.md, "FAU-Aibo (5-class)").

Paper 04 (§III, "AIBO5") evaluates speech emotion recognition on the five classes of the
INTERSPEECH 2009 Emotion Challenge: Anger, Emphatic, Neutral, Positive, Rest. The
challenge protocol trains on the recordings of one school (Ohm) and tests on the other
(Mont), so no child appears on both sides.

Layout read (``PATH`` is the corpus root)::

    labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt
    wav/<chunk_id>.wav

The labels file has no header; each non-blank line is whitespace separated
``<chunk_id> <A|E|N|P|R> <confidence>``, e.g. ``Ohm_01_001_00 N 1.000000``, where the
confidence in [0, 1] is the annotators' agreement on the chunk's class. A chunk id is
``<school>_<speaker>_<turn>_<chunk>``; the speaker is ``<school>_<speaker>`` (``Ohm_01``).
The file carries no speaker gender, so ``gender`` is ``""`` (paper 04 does not bin by
gender on this corpus).

Malformed lines (wrong field count, a class letter outside ``A E N P R``, a confidence that
is not a number in [0, 1]), ids of another shape or school, and repeated ids are
:class:`~audioreason.datasets.records.RecordError` s naming the line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NamedTuple

from audioreason.datasets.records import ImportResult, Problems, Utterance

FORMAT = "fau_aibo"
LABELS_FILE = Path("labels") / "IS2009EmotionChallenge" / "chunk_labels_5cl_corpus.txt"
#: Anger, Emphatic, Neutral, Positive, Rest.
CLASSES = ("A", "E", "N", "P", "R")
#: school -> split (IS2009 Emotion Challenge: train on Ohm, test on Mont).
SCHOOL_SPLIT = {"Ohm": "train", "Mont": "test"}

_CHUNK_ID = re.compile(r"^(?P<school>[A-Za-z]+)_(?P<speaker>\d+)_(?P<turn>\d+)_(?P<chunk>\d+)$")


class ChunkId(NamedTuple):
    """The parts of ``<school>_<speaker>_<turn>_<chunk>``."""

    school: str
    speaker: str
    turn: str
    chunk: str


class LabelLine(NamedTuple):
    """One parsed line of the 5-class chunk labels file."""

    chunk_id: str
    label: str
    confidence: float


def parse_chunk_id(chunk_id: str) -> ChunkId:
    """Split a chunk id; ``speaker`` is the corpus-wide speaker id ``<school>_<NN>``.

    >>> parse_chunk_id("Ohm_01_001_00")
    ChunkId(school='Ohm', speaker='Ohm_01', turn='001', chunk='00')

    Raises:
        ValueError: for an id of another shape or from a school other than Ohm and Mont.
    """
    m = _CHUNK_ID.match(chunk_id)
    if m is None:
        raise ValueError(f"chunk id {chunk_id!r} is not <school>_<speaker>_<turn>_<chunk> (e.g. Ohm_01_001_00)")
    if m["school"] not in SCHOOL_SPLIT:
        raise ValueError(f"chunk id {chunk_id!r} names school {m['school']!r}, not one of {', '.join(SCHOOL_SPLIT)}")
    return ChunkId(m["school"], f"{m['school']}_{m['speaker']}", m["turn"], m["chunk"])


def parse_label_line(line: str) -> LabelLine:
    """Parse ``<chunk_id> <A|E|N|P|R> <confidence>``.

    >>> parse_label_line("Mont_02_010_03\\tE  0.6")
    LabelLine(chunk_id='Mont_02_010_03', label='E', confidence=0.6)

    Raises:
        ValueError: for a wrong number of fields, an unknown class letter, or a confidence
            that is not a number in [0, 1].
    """
    fields = line.split()
    if len(fields) != 3:
        raise ValueError(f"expected '<chunk_id> <class> <confidence>', got {len(fields)} field(s): {line.strip()!r}")
    chunk_id, label, conf_text = fields
    if label not in CLASSES:
        raise ValueError(f"class {label!r} is not one of {' '.join(CLASSES)}")
    try:
        confidence = float(conf_text)
    except ValueError:
        raise ValueError(f"confidence {conf_text!r} is not a number") from None
    if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
        raise ValueError(f"confidence {conf_text!r} is outside [0, 1]")
    return LabelLine(chunk_id, label, confidence)


def read(path: str | Path, *, on_error: str = "raise", check_audio_exists: bool = True) -> ImportResult:
    """Read the FAU-Aibo corpus root into 5-class :class:`Utterance` records, in file order.

    Raises:
        FileNotFoundError: when ``labels/IS2009EmotionChallenge/chunk_labels_5cl_corpus.txt``
            is not under ``path``.
        RecordError: (``on_error="raise"``) for a malformed line, a bad chunk id, a repeated
            chunk id, or a missing ``wav/<chunk_id>.wav``.
    """
    root = Path(path)
    labels = root / LABELS_FILE
    if not labels.is_file():
        raise FileNotFoundError(
            f"{FORMAT}: labels file {labels} does not exist (expected <root>/{LABELS_FILE.as_posix()})"
        )
    problems = Problems(on_error)
    records: list[Utterance] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            parsed = parse_label_line(line)
        except ValueError as e:
            problems.bad(labels, f"line {lineno}", str(e))
            continue
        where = f"line {lineno} ({parsed.chunk_id})"
        try:
            chunk = parse_chunk_id(parsed.chunk_id)
        except ValueError as e:
            problems.bad(labels, where, str(e))
            continue
        if parsed.chunk_id in seen:
            problems.bad(labels, where, f"duplicate chunk id (first on line {seen[parsed.chunk_id]})")
            continue
        seen[parsed.chunk_id] = lineno
        audio = root / "wav" / f"{parsed.chunk_id}.wav"
        if problems.audio_missing(labels, where, audio, check_audio_exists):
            continue
        records.append(
            Utterance(
                id=parsed.chunk_id,
                dataset=FORMAT,
                split=SCHOOL_SPLIT[chunk.school],
                audio=str(audio.resolve()),
                speaker=chunk.speaker,
                gender="",
                label=parsed.label,
                raw_label=parsed.label,
                text=None,
                session=chunk.school,
                source=f"{labels}#{lineno}",
                extra={"confidence": parsed.confidence, "turn": chunk.turn, "chunk": chunk.chunk},
            )
        )
    return problems.result(FORMAT, records)
