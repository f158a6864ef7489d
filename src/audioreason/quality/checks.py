"""The catalogue of quality-check keys and the per-check policy (``fail`` or ``quarantine``).

Every problem the ``validate`` stage can find has a stable key: ``manifest.*`` for the
great-expectations suites (:mod:`audioreason.quality.expectations`), ``audio.*`` for the
per-file checks (:mod:`audioreason.quality.audio_checks`) and ``overlap.*`` for the
train/evaluation overlap checks (:mod:`audioreason.quality.overlap`). ``validate.policy``
in params maps keys to an action:

- ``fail``: the stage stops (non-zero exit) with a report naming the offending rows;
- ``quarantine``: the rows are set aside, counted, listed in the report and left out of
  the validated manifest.

Checks that are about a whole manifest rather than rows (:data:`TABLE_CHECKS`) always fail:
there is no row to set aside. This module imports nothing heavy: :class:`Policy` checks
``validate.policy`` when the ``validate`` stage starts and when ``audioreason params``
writes a params file (the config package does not know the check keys).
"""

from __future__ import annotations

from typing import Mapping

from audioreason.config import ConfigError

__all__ = [
    "ACTIONS",
    "AUDIO_CHECKS",
    "CHECKS",
    "MANIFEST_CHECKS",
    "OVERLAP_CHECKS",
    "Policy",
    "TABLE_CHECKS",
]

ACTIONS = ("fail", "quarantine")

#: Manifest-level checks with nothing to set aside: always ``fail``.
TABLE_CHECKS: dict[str, str] = {
    "manifest.readable": "manifest file missing or a line unreadable as a record",
    "manifest.index_count": "record count differs from the ingest index",
    "manifest.columns": "manifest columns missing",
    "manifest.row_count": "too few records",
}

#: Row-level great-expectations checks (the suite per record type decides which run).
MANIFEST_CHECKS: dict[str, str] = {
    "manifest.field_types": "a field has the wrong type (or is null)",
    "manifest.id_unique": "duplicate id within dataset/split",
    "manifest.split_in_set": "split not in the allowed set",
    "manifest.question_nonempty": "question empty",
    "manifest.n_choices": "number of choices out of range",
    "manifest.choices_unique": "repeated or empty choices",
    "manifest.answer_in_choices": "answer not among choices",
    "manifest.task_in_set": "task not in the allowed set",
    "manifest.difficulty_in_set": "difficulty not in the allowed set",
    "manifest.answer_in_vocab": "answer not in the answer vocabulary",
    "manifest.group_type": "question group/type not one of the official pairs",
    "manifest.label_in_set": "label not in the allowed set",
    "manifest.gender_in_set": "gender not F, M or empty",
    "manifest.event_times": "event onset < 0 or not before its offset",
    "manifest.event_confidence": "event confidence outside [0, 1]",
    "manifest.label_nonempty": "label empty",
    "manifest.caption_nonempty": "caption empty",
    "manifest.answer_letter": "answer letter does not name the answer",
}

#: Per-file checks; a bad file flags every record that uses it.
AUDIO_CHECKS: dict[str, str] = {
    "audio.missing": "audio file missing",
    "audio.undecodable": "audio file cannot be decoded",
    "audio.sample_rate": "sample rate not allowed",
    "audio.channels": "more channels than allowed",
    "audio.duration": "duration out of bounds (or no frames)",
    "audio.truncated": "data shorter than the header declares",
    "audio.non_finite": "NaN or infinite samples",
    "audio.silent": "RMS level below the silence threshold",
    "audio.clipping": "too many samples at full scale",
}

#: Train/evaluation overlap; the training-side rows are flagged (evaluation sets stay intact).
OVERLAP_CHECKS: dict[str, str] = {
    "overlap.clip_id": "training clip id also in an evaluation manifest",
    "overlap.fingerprint": "training audio matches evaluation audio by fingerprint",
}

CHECKS: dict[str, str] = {**TABLE_CHECKS, **MANIFEST_CHECKS, **AUDIO_CHECKS, **OVERLAP_CHECKS}


class Policy:
    """What to do with each check's offending rows.

    >>> p = Policy({"default": "fail", "audio.silent": "quarantine"})
    >>> p.action("audio.silent"), p.action("audio.clipping"), p.action("manifest.columns")
    ('quarantine', 'fail', 'fail')

    Args:
        mapping: ``{check key: "fail" | "quarantine"}`` plus a required ``default`` key.

    Raises:
        ConfigError: a missing ``default``, an unknown key or action, or ``quarantine``
            for a check in :data:`TABLE_CHECKS` (a ``ValueError``; the message starts ``policy:``).
    """

    def __init__(self, mapping: Mapping[str, str]):
        problems = validate_policy(mapping)
        if problems:
            raise ConfigError("policy: " + "; ".join(problems))
        self.default = mapping["default"]
        self.actions = {k: v for k, v in mapping.items() if k != "default"}

    def action(self, check: str) -> str:
        """``fail`` or ``quarantine`` for ``check`` (table-level checks always ``fail``)."""
        if check in TABLE_CHECKS:
            return "fail"
        return self.actions.get(check, self.default)

    def to_json(self) -> dict[str, str]:
        """The resolved action of every known check."""
        return {key: self.action(key) for key in CHECKS}


def validate_policy(mapping: Mapping[str, str]) -> list[str]:
    """Return what is wrong with a ``validate.policy`` mapping (empty when it is fine)."""
    problems = []
    if not isinstance(mapping, Mapping):
        return [f"expected a mapping of check key -> fail|quarantine, got {type(mapping).__name__}"]
    if "default" not in mapping:
        problems.append("missing key 'default'")
    for key, action in mapping.items():
        if key != "default" and key not in CHECKS:
            problems.append(f"unknown check {key!r} (known: default, {', '.join(CHECKS)})")
        elif action not in ACTIONS:
            problems.append(f"{key}: action must be one of {', '.join(ACTIONS)}, got {action!r}")
        elif key in TABLE_CHECKS and action != "fail":
            problems.append(f"{key}: a manifest-level check always fails (no rows to quarantine)")
    return problems
