"""The normalised question-answer record every importer produces, and its JSONL manifest.

Importers (one module per real on-disk format) read a dataset and return
:class:`QARecord` objects; stages write them as JSON Lines manifests under
``outputs/<stage>/`` and every later stage reads those manifests, never the raw
formats again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


class RecordError(ValueError):
    """A malformed input record. The message names the file and the record."""

    def __init__(self, source: str | Path, record: Any, problem: str):
        self.source = str(source)
        self.record = record
        self.problem = problem
        super().__init__(f"{source}: record {record}: {problem}")


@dataclass(frozen=True)
class QARecord:
    """One multiple-choice audio question.

    Attributes:
        id: Identifier unique within ``dataset`` (the dataset's own id, as a string).
        dataset: Short dataset name (``avqa``, ``mmau``, ...).
        split: ``train``, ``val``, ``test``, ``test-mini``.
        audio: Absolute path of the audio file.
        question: The question text as it will be put to the model.
        choices: The answer options, in the dataset's order.
        answer: The correct option; always one of ``choices``.
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

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["choices"] = list(self.choices)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "QARecord":
        d = dict(d)
        d["choices"] = tuple(d["choices"])
        return cls(**d)


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


def write_manifest(records: Iterable[QARecord], path: str | Path) -> int:
    """Write records as JSON Lines (sorted keys, so identical inputs give identical bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_manifest(path: str | Path) -> list[QARecord]:
    """Read a JSON Lines manifest; a broken line raises :class:`RecordError` naming it."""
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
                out.append(QARecord.from_json(d))
            except (ValueError, TypeError, KeyError) as e:
                raise RecordError(path, f"line {lineno}", f"unreadable manifest line ({e})") from e
    return out
