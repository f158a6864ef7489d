"""The normalised record types every importer produces, and their JSONL manifests.

Importers (one module per real on-disk format, FORMATS.md) read a dataset and return an
:class:`ImportResult` holding records of one of these types:

========================  =====================================================================
:class:`QARecord`         multiple-choice audio question (AVQA, MMAU), or a text-only one (ARC)
:class:`OpenQARecord`     open-vocabulary audio-visual question (MUSIC-AVQA)
:class:`Utterance`        one spoken utterance (IEMOCAP, FAU-Aibo, VCTK)
:class:`Soundscape`       a clip with timed (strong) or clip-level (weak) event labels (DESED, MAESTRO-Real)
:class:`LabelledClip`     a clip with one class label (VGGSound)
:class:`Caption`          a caption of a clip (AudioSetCaps)
:class:`CotaRecord`       a chain-of-thought audio question with its four-stage trace (CoTA)
========================  =====================================================================

Stages write records as JSON Lines manifests under ``outputs/<stage>/`` and every later
stage reads those manifests, never the raw formats again. A malformed raw record is a
:class:`RecordError` naming the file and the record: raised at once (``on_error="raise"``)
or set aside and counted in :attr:`ImportResult.quarantined` (``on_error="quarantine"``).
Records a dataset's standard protocol leaves out (IEMOCAP labels outside the 4-way set,
``._`` files) are not errors: they are counted per reason in :attr:`ImportResult.filtered`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Iterable, TypeVar


class RecordError(ValueError):
    """A malformed input record. The message names the file and the record."""

    def __init__(self, source: str | Path, record: Any, problem: str):
        self.source = str(source)
        self.record = record
        self.problem = problem
        super().__init__(f"{source}: record {record}: {problem}")


class _JsonRecord:
    """``to_json`` / ``from_json`` for the frozen record dataclasses (tuples <-> lists)."""

    #: Nested record types of tuple fields, decoded by :meth:`from_json`.
    _nested: ClassVar[dict[str, type]] = {}

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_json(cls, d: dict[str, Any]):
        d = dict(d)
        for f in dataclasses.fields(cls):
            v = d.get(f.name)
            if isinstance(v, list):
                nested = cls._nested.get(f.name)
                d[f.name] = tuple(nested(**x) if nested and isinstance(x, dict) else x for x in v)
        return cls(**d)


@dataclass(frozen=True)
class QARecord(_JsonRecord):
    """One multiple-choice audio question.

    Attributes:
        id: Identifier unique within ``dataset`` (the dataset's own id, as a string).
        dataset: Short dataset name (``avqa``, ``mmau``, ...).
        split: ``train``, ``val``, ``test``, ``test-mini``.
        audio: Absolute path of the audio file; ``""`` for a text-only question (ARC), whose
            manifest is validated with ``audio: false``.
        question: The question text as it will be put to the model.
        choices: The answer options, in the dataset's order.
        answer: The correct option; always one of ``choices``, except ``""`` where the
            publisher withholds the answers (MMAU test-full; ``extra["answer_hidden"]``).
        task: ``sound``, ``music`` or ``speech`` (MMAU's three domains).
        category: MMAU category (``Reasoning`` / ``Information Extraction``) or the
            dataset's nearest equivalent (AVQA ``question_relation``).
        sub_category: MMAU sub-category or AVQA ``question_type``.
        difficulty: ``easy`` / ``medium`` / ``hard``, or ``""`` when the dataset has none.
        source: ``<file>#<index>`` of the raw record, for error messages and lineage.
    """

    id: str
    dataset: str
    split: str
    audio: str
    question: str
    choices: tuple[str, ...]
    answer: str
    task: str = ""
    category: str = ""
    sub_category: str = ""
    difficulty: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def answer_index(self) -> int:
        return self.choices.index(self.answer)


@dataclass(frozen=True)
class OpenQARecord(_JsonRecord):
    """One open-vocabulary audio-visual question (MUSIC-AVQA).

    Attributes:
        id: ``question_id`` as a string.
        dataset: ``music_avqa``.
        split: ``train`` / ``val`` / ``test``.
        audio: Absolute path of the clip's audio (``<root>/audio/<video_id>.wav``).
        video_id: The dataset's video id (``"00000108"``, ``"vv00003078"``).
        question: The question with its placeholders substituted (the official rule).
        answer: The answer word (``anser`` in the raw file), from a 42-word vocabulary.
        group: Modality group: ``Audio`` / ``Visual`` / ``Audio-Visual``.
        type: Question type within the group (``Counting``, ``Comparative``, ``Location``,
            ``Existential``, ``Temporal``).
        template: The raw ``question_content`` with placeholders.
        templ_values: The decoded template values.
        source: ``<file>#<index>``.
    """

    id: str
    dataset: str
    split: str
    audio: str
    video_id: str
    question: str
    answer: str
    group: str
    type: str
    template: str = ""
    templ_values: tuple[str, ...] = ()
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Utterance(_JsonRecord):
    """One spoken utterance (IEMOCAP, FAU-Aibo, VCTK).

    Attributes:
        id: Utterance id (``Ses01F_impro01_F000``, ``Ohm_01_001_00``, ``p225_001``).
        dataset: ``iemocap``, ``fau_aibo`` or ``vctk``.
        split: The papers' protocol: IEMOCAP sessions 1-4 ``train``, 5 ``test``; FAU-Aibo
            school Ohm ``train``, Mont ``test``; VCTK ``all``.
        audio: Absolute path of the audio file (VCTK: ``mic1``).
        speaker: Speaker id (IEMOCAP ``Ses01_F``; FAU-Aibo ``Ohm_01``; VCTK ``p225``).
        gender: ``F``, ``M`` or ``""`` when the dataset does not say (FAU-Aibo).
        label: Emotion label after the dataset's standard mapping (IEMOCAP 4-way: ``ang``
            ``hap`` ``neu`` ``sad``; FAU-Aibo 5-class ``A E N P R``); ``""`` for VCTK.
        raw_label: The label as written in the dataset (IEMOCAP ``exc`` before mapping).
        text: Transcript, or ``None`` where the dataset has none (VCTK p315).
        session: IEMOCAP ``Session1``..``Session5``; FAU-Aibo school; ``""`` otherwise.
        source: ``<file>#<line or index>``.
    """

    id: str
    dataset: str
    split: str
    audio: str
    speaker: str
    gender: str = ""
    label: str = ""
    raw_label: str = ""
    text: str | None = None
    session: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SoundEvent(_JsonRecord):
    """One timed event: seconds from the clip start; ``confidence`` is MAESTRO's soft label (1.0 in DESED)."""

    onset: float
    offset: float
    label: str
    confidence: float = 1.0


@dataclass(frozen=True)
class Soundscape(_JsonRecord):
    """A clip with its events (DESED, MAESTRO-Real).

    Attributes:
        id: File stem (``<scene>_NN`` for MAESTRO, the wav name for DESED).
        dataset: ``desed`` or ``maestro``.
        split: DESED's metadata folder (``train`` / ``validation`` / ...); MAESTRO ``development``.
        audio: Absolute path of the audio file.
        scene: MAESTRO scene (``cafe_restaurant`` ...); ``home`` for DESED (domestic).
        events: Strong labels, sorted by onset (empty for weakly labelled clips).
        labels: Clip-level labels: the weak labels, or the distinct strong labels.
        strong: Whether ``events`` carries timestamps.
        source: ``<file>#<line>``.
    """

    _nested: ClassVar[dict[str, type]] = {"events": SoundEvent}

    id: str
    dataset: str
    split: str
    audio: str
    scene: str
    events: tuple[SoundEvent, ...] = ()
    labels: tuple[str, ...] = ()
    strong: bool = True
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LabelledClip(_JsonRecord):
    """A clip with one class label (VGGSound): ``id`` is ``{ytid}_{start:06d}``."""

    id: str
    dataset: str
    split: str
    audio: str
    label: str
    ytid: str = ""
    start_s: int = 0
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Caption(_JsonRecord):
    """A caption of a clip (AudioSetCaps).

    Attributes:
        id: The caption file's id (``<ytid>_<start:06d>`` for VGGSound, ``Y<ytid>`` for AudioSet).
        dataset: ``audiosetcaps``.
        caption: The caption text.
        corpus: ``vggsound`` or ``audioset`` (from the id's shape).
        clip: The VGGSound clip name the caption belongs to, or ``""`` for AudioSet ids.
        ytid: The YouTube id.
        source: ``<file>#<line>``.
    """

    id: str
    dataset: str
    caption: str
    corpus: str
    clip: str = ""
    ytid: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class CotaRecord(_JsonRecord):
    """One CoTA (Audio-Reasoner) item with its four-stage trace (paper 01 §3.1).

    Attributes:
        id: ``<parquet stem>-<row>``.
        dataset: ``cota``.
        split: ``train``.
        audio: ``<parquet path>#<row>``: the audio stays inside the parquet;
            :func:`audioreason.datasets.cota.load_cota_audio` decodes it.
        question: The user turn without the leading ``<audio>`` and the inline options.
        choices: The inline options ``(a) … (b) …`` in order (empty for open questions).
        answer: The chosen option's text (or the free answer of an open question).
        answer_letter: The letter of ``The answer is X.`` (upper case), ``""`` for open questions.
        planning, caption, reasoning, summary: The four ``<THINK>`` stages.
        response: The ``<RESPONSE>`` text.
        source: ``<file>#<row>``.
    """

    id: str
    dataset: str
    split: str
    audio: str
    question: str
    choices: tuple[str, ...]
    answer: str
    answer_letter: str
    planning: str
    caption: str
    reasoning: str
    summary: str
    response: str
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (QARecord, OpenQARecord, Utterance, Soundscape, LabelledClip, Caption, CotaRecord)
}
R = TypeVar("R")


@dataclass
class ImportResult(Generic[R]):
    """What an importer read.

    Attributes:
        format: The format name (:data:`audioreason.datasets.formats.FORMATS`).
        records: The usable records, in file order.
        quarantined: One :class:`RecordError` per malformed raw record set aside.
        filtered: ``{reason: count}`` of records the dataset's standard protocol leaves
            out (not errors, but never dropped without a count).
    """

    format: str
    records: list[R] = field(default_factory=list)
    quarantined: list[RecordError] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)


def finite_number(name: str, text: str) -> float:
    """``text`` as a finite float; a ``ValueError`` naming the field otherwise.

    >>> finite_number("onset", "1.5")
    1.5
    >>> finite_number("onset", "inf")
    Traceback (most recent call last):
    ValueError: onset 'inf' is not a finite number
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {text!r} is not a finite number")
    return value


#: The ``filtered`` reason for macOS AppleDouble (``._*``) files copied next to the real ones.
APPLEDOUBLE = "._ file"


class Problems:
    """Collects what is wrong while an importer reads: raise at once, or quarantine and count.

    >>> p = Problems("quarantine")
    >>> p.bad("x.json", "#3", "answer not among choices")
    >>> p.filter("label xxx outside the 4-way set")
    >>> len(p.quarantined), p.filtered
    (1, {'label xxx outside the 4-way set': 1})
    """

    def __init__(self, on_error: str = "raise"):
        if on_error not in ("raise", "quarantine"):
            raise ValueError(f"on_error must be 'raise' or 'quarantine', got {on_error!r}")
        self.on_error = on_error
        self.quarantined: list[RecordError] = []
        self.filtered: dict[str, int] = {}

    def bad(self, source: str | Path, record: Any, problem: str) -> None:
        err = RecordError(source, record, problem)
        if self.on_error == "raise":
            raise err
        self.quarantined.append(err)

    def filter(self, reason: str, n: int = 1) -> None:
        self.filtered[reason] = self.filtered.get(reason, 0) + n

    def visible(self, paths: Iterable[Path]) -> list[Path]:
        """``paths`` sorted, without macOS ``._*`` files (counted under :data:`APPLEDOUBLE`)."""
        out = []
        for p in sorted(paths):
            if p.name.startswith("._"):
                self.filter(APPLEDOUBLE)
            else:
                out.append(p)
        return out

    def audio_missing(self, source: str | Path, record: Any, audio: Path, check: bool) -> bool:
        """With ``check``, report a missing audio file as a bad record; ``True`` when it is missing."""
        if check and not audio.is_file():
            self.bad(source, record, f"audio file {audio} does not exist")
            return True
        return False

    def result(self, fmt: str, records: list) -> ImportResult:
        return ImportResult(fmt, records, self.quarantined, dict(sorted(self.filtered.items())))


def read_json_list(path: str | Path, what: str) -> list:
    """Load a dataset's top-level JSON list; an unreadable file or a non-list names the file."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise RecordError(path, "(file)", f"cannot read {what} json ({e})") from e
    if not isinstance(raw, list):
        raise RecordError(path, "(file)", f"expected a JSON list of records, got {type(raw).__name__}")
    return raw


MANIFEST_COLUMNS = tuple(f.name for f in dataclasses.fields(QARecord))


def write_manifest(records: Iterable[_JsonRecord], path: str | Path) -> int:
    """Write records as JSON Lines (sorted keys, so identical inputs give identical bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_manifest(path: str | Path, record_type: type = QARecord) -> list:
    """Read a JSON Lines manifest of ``record_type``; a broken line raises :class:`RecordError` naming it."""
    path = Path(path)
    out = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise TypeError(f"expected a JSON object, got {type(d).__name__}")
                out.append(record_type.from_json(d))
            except (ValueError, TypeError, KeyError) as e:
                raise RecordError(path, f"line {lineno}", f"unreadable manifest line ({e})") from e
    return out
