"""Great Expectations (GX Core 1.x) suites over the normalised manifests, one per record type.

Every manifest gets one GX run. The suite depends on the record type
(:data:`audioreason.datasets.records.RECORD_TYPES`):

================  ========================================================================
every type        columns present, enough rows, field types (from the dataclass), ids
                  unique within dataset/split, split in the allowed set
``QARecord``      question non-empty, 2..8 choices, choices unique, answer among choices
                  (unless withheld: empty with ``extra["answer_hidden"]``, MMAU test-full),
                  task and difficulty in their sets
``OpenQARecord``  question non-empty, answer in the answer vocabulary, group/type one of
                  the official nine MUSIC-AVQA pairs
``Utterance``     label in the allowed set, gender ``F`` / ``M`` / ``""``
``Soundscape``    every event ``0 <= onset < offset``, confidence in [0, 1], event and
                  clip labels in the allowed set
``LabelledClip``  label non-empty (and in the allowed set when one is given)
``Caption``       caption non-empty
``CotaRecord``    question non-empty, answer among choices (multiple choice only), the
                  answer letter names the answer
================  ========================================================================

Allowed sets (labels, splits, the answer vocabulary) come from the caller
(:class:`ManifestRules`, built by the ``validate`` stage from params), never from here.
Checks that GX cannot express on list-valued columns are turned into boolean helper
columns first, which GX then checks with plain set and range expectations; values of the
wrong type become nulls in the helper columns (GX skips nulls) so that a row is blamed by
``manifest.field_types`` once, not again by every check that reads the field. Every
offending row is identified by its position (``rows``) and named by its ``source`` and
``id``.

Great Expectations is imported lazily, inside :func:`validate_manifest`: the import alone
takes seconds, and importing this module must stay cheap.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from audioreason.datasets.records import RECORD_TYPES, QARecord
from audioreason.quality.checks import CHECKS

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.expectations import Expectation

__all__ = [
    "DEFAULT_DIFFICULTIES",
    "DEFAULT_SPLITS",
    "DEFAULT_TASKS",
    "GENDERS",
    "MAX_LISTED_RECORDS",
    "MUSIC_AVQA_TYPES",
    "ManifestReport",
    "ManifestRules",
    "records_to_frame",
    "validate_manifest",
]

DEFAULT_SPLITS: tuple[str, ...] = ("train", "val", "test", "test-mini")
DEFAULT_TASKS: tuple[str, ...] = ("sound", "music", "speech")
DEFAULT_DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard", "")
GENDERS: tuple[str, ...] = ("F", "M", "")
#: The official MUSIC-AVQA (modality group, question type) pairs.
MUSIC_AVQA_TYPES: tuple[tuple[str, str], ...] = (
    ("Audio", "Counting"),
    ("Audio", "Comparative"),
    ("Visual", "Counting"),
    ("Visual", "Location"),
    ("Audio-Visual", "Existential"),
    ("Audio-Visual", "Counting"),
    ("Audio-Visual", "Location"),
    ("Audio-Visual", "Comparative"),
    ("Audio-Visual", "Temporal"),
)

#: How many offending records a failure lists by name; ``n_failed`` has the total.
MAX_LISTED_RECORDS = 20

# Helper columns that locate and name a row; absent ``source``/``id`` fall back to the row number.
_ROW = "_row"
_REF_SOURCE = "_ref_source"
_REF_ID = "_ref_id"


@dataclass(frozen=True)
class ManifestRules:
    """What one manifest's records may contain (the allowed sets come from params).

    Attributes:
        splits: Values ``split`` may take; ``None`` skips the check.
        tasks: Values ``QARecord.task`` may take.
        difficulties: Values ``QARecord.difficulty`` may take (``""`` = not graded).
        labels: Allowed labels: ``Utterance.label``, ``Soundscape`` event and clip labels,
            ``LabelledClip.label``; ``None`` skips the set check.
        answer_vocab: ``OpenQARecord.answer`` vocabulary (MUSIC-AVQA's answer words);
            ``None`` skips the check.
        min_choices: Fewest answer options a ``QARecord`` may have.
        max_choices: Most answer options a ``QARecord`` may have.
        min_records: Fewest rows the manifest may have (an empty manifest fails by default).
    """

    splits: Sequence[str] | None = DEFAULT_SPLITS
    tasks: Sequence[str] = DEFAULT_TASKS
    difficulties: Sequence[str] = DEFAULT_DIFFICULTIES
    labels: Sequence[str] | None = None
    answer_vocab: Sequence[str] | None = None
    min_choices: int = 2
    max_choices: int = 8
    min_records: int = 1


@dataclass
class ManifestReport:
    """The outcome of the expectation suite on one manifest.

    Attributes:
        name: The manifest's name as shown to the user (e.g. ``avqa_train``).
        record_type: The record type name (``QARecord`` ...).
        n_records: Number of rows validated.
        success: ``True`` when every expectation passed.
        failures: One dict per failed expectation, in suite order, with keys
            ``expectation`` (GX type), ``check`` (key, ``manifest.*``), ``description``
            (what is wrong, in words), ``column``, ``n_failed`` (total offending rows),
            ``rows`` (every offending row position, empty for table-level checks),
            ``problems`` (one text per entry of ``rows``), ``records`` (at most
            :data:`MAX_LISTED_RECORDS` strings ``"<source> (id <id>)"``, with the offending
            value where it helps) and ``detail`` (e.g. the missing column names).
        gx_statistics: GX's validation statistics (evaluated/successful counts).
    """

    name: str
    record_type: str
    n_records: int
    success: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    gx_statistics: dict[str, Any] = field(default_factory=dict)

    def row_problems(self) -> dict[int, list[tuple[str, str]]]:
        """``{row position: [(check key, problem text), ...]}`` over all failed row checks."""
        out: dict[int, list[tuple[str, str]]] = {}
        for f in self.failures:
            for row, problem in zip(f["rows"], f["problems"]):
                out.setdefault(row, []).append((f["check"], problem))
        return out

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of this report (listed records capped)."""
        return {
            "name": self.name,
            "record_type": self.record_type,
            "n_records": self.n_records,
            "success": self.success,
            "failures": [{k: v for k, v in f.items() if k not in ("rows", "problems")} for f in self.failures],
            "gx_statistics": dict(self.gx_statistics),
        }


def _record_class(record_type: str | type) -> type:
    if isinstance(record_type, type):
        return record_type
    if record_type not in RECORD_TYPES:
        raise ValueError(f"unknown record type {record_type!r}; known: {', '.join(RECORD_TYPES)}")
    return RECORD_TYPES[record_type]


def records_to_frame(records: Iterable[Any], record_type: str | type = QARecord) -> pd.DataFrame:
    """Turn records into a DataFrame with exactly the record type's columns.

    Columns are ``object`` dtype holding the JSON values as they are (lists, dicts,
    ``None``), so a wrongly typed value is not coerced away before it is checked.

    Args:
        records: Record objects (anything with ``to_json``) or their JSON dicts.
        record_type: The record type (class or name); sets the columns.

    Returns:
        A DataFrame with one column per field of ``record_type``.
    """
    cls = _record_class(record_type)
    columns = [f.name for f in dataclasses.fields(cls)]
    rows = [r.to_json() if hasattr(r, "to_json") else dict(r) for r in records]
    return pd.DataFrame({c: pd.Series([row.get(c) for row in rows], dtype=object) for c in columns}, columns=columns)


def validate_manifest(
    df_or_records: pd.DataFrame | Iterable[Any],
    *,
    name: str,
    record_type: str | type = QARecord,
    rules: ManifestRules | None = None,
) -> ManifestReport:
    """Run the record type's expectation suite and collect every offending row.

    A fresh in-memory GX context is created for each call (nothing is written to disk
    and no state leaks between calls); GX's progress bars are off.

    Args:
        df_or_records: A manifest DataFrame (as from :func:`records_to_frame`) or records.
        name: The manifest's name for the report.
        record_type: The record type (class or name) the manifest holds.
        rules: The allowed sets and bounds (defaults: :class:`ManifestRules`).

    Returns:
        A :class:`ManifestReport`.
    """
    # GX 1.24 ships no analytics code; the variable keeps telemetry off on versions that do.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    cls = _record_class(record_type)
    rules = rules or ManifestRules()
    df = df_or_records if isinstance(df_or_records, pd.DataFrame) else records_to_frame(df_or_records, cls)
    work = _with_helper_columns(df, cls, rules)
    checks = _build_checks(cls, rules, present=set(df.columns), work=work)
    results, statistics = _run_gx(work, checks)

    failures: list[dict[str, Any]] = []
    for check in checks:
        result = results.get(check.key)
        if result is None or not result.success:
            failures.append(_failure(check, result, work))
    return ManifestReport(
        name=name,
        record_type=cls.__name__,
        n_records=len(df),
        success=not failures,
        failures=failures,
        gx_statistics=statistics,
    )


@dataclass(frozen=True)
class _Check:
    key: str
    description: str
    column: str | None
    expectation: "Expectation"
    value_column: str | None = None  # shown as ": <value>" after the description
    why_column: str | None = None  # per-row explanation text


def _build_checks(cls: type, rules: ManifestRules, *, present: set[str], work: pd.DataFrame) -> list[_Check]:
    import great_expectations.expectations as gxe

    fields = [f.name for f in dataclasses.fields(cls)]
    kind = cls.__name__
    checks: list[_Check] = []

    def add(
        key: str,
        description: str,
        column: str | None,
        exp_cls: type,
        needs: Iterable[str],
        /,
        value_column: str | None = None,
        why_column: str | None = None,
        **kw: Any,
    ) -> None:
        assert key in CHECKS, key
        # A check on an absent column would only repeat "column missing" as a GX
        # exception traceback; the columns check already reports it.
        if not set(needs) <= present:
            return
        checks.append(_Check(key, description, column, exp_cls(meta={"check": key}, **kw), value_column, why_column))

    def true(key: str, description: str, helper: str, needs: Iterable[str], why: str | None = None) -> None:
        add(
            key,
            description,
            helper,
            gxe.ExpectColumnValuesToBeInSet,
            needs,
            why_column=why,
            column=helper,
            value_set=[True],
        )

    def in_set(key: str, column: str, allowed: Sequence[str], description: str | None = None) -> None:
        if description is None:
            shown = ", ".join(repr(v) for v in allowed) if len(allowed) <= 12 else f"{len(allowed)} allowed values"
            description = f"{column} not in {{{shown}}}"
        add(
            key,
            description,
            column,
            gxe.ExpectColumnValuesToBeInSet,
            (column,),
            value_column=f"_v_{column}",
            column=f"_v_{column}",
            value_set=list(allowed),
        )

    add(
        "manifest.columns",
        "manifest columns missing",
        None,
        gxe.ExpectTableColumnsToMatchSet,
        (),
        column_set=fields,
        exact_match=False,
    )
    add(
        "manifest.row_count",
        "too few records",
        None,
        gxe.ExpectTableRowCountToBeBetween,
        (),
        min_value=rules.min_records,
    )
    true("manifest.field_types", "wrong field type", "_types_ok", (), why="_why_types")
    keys = [c for c in ("dataset", "split", "id") if c in fields]
    add(
        "manifest.id_unique",
        f"duplicate id within {'/'.join(k for k in keys if k != 'id')}",
        ", ".join(keys),
        gxe.ExpectCompoundColumnsToBeUnique,
        keys,
        value_column="_key_id",
        column_list=[f"_key_{k}" for k in keys],
    )
    if "split" in fields and rules.splits is not None:
        in_set("manifest.split_in_set", "split", rules.splits)

    if kind in ("QARecord", "OpenQARecord", "CotaRecord"):
        true("manifest.question_nonempty", "question empty", "_question_ok", ("question",))
    if kind == "QARecord":
        add(
            "manifest.n_choices",
            f"number of choices not in {rules.min_choices}..{rules.max_choices}",
            "choices",
            gxe.ExpectColumnValuesToBeBetween,
            ("choices",),
            value_column="_n_choices",
            column="_n_choices",
            min_value=rules.min_choices,
            max_value=rules.max_choices,
        )
        true("manifest.choices_unique", "repeated or empty choices", "_choices_unique", ("choices",))
    if kind in ("QARecord", "CotaRecord"):
        true(
            "manifest.answer_in_choices",
            "answer not among choices",
            "_answer_in_choices",
            ("choices", "answer"),
            why="_why_answer",
        )
    if kind == "QARecord":
        in_set("manifest.task_in_set", "task", rules.tasks)
        in_set("manifest.difficulty_in_set", "difficulty", rules.difficulties)
    if kind == "OpenQARecord":
        if rules.answer_vocab is not None:
            in_set(
                "manifest.answer_in_vocab",
                "answer",
                rules.answer_vocab,
                f"answer not in the {len(set(rules.answer_vocab))}-word answer vocabulary",
            )
        pairs = [f"{g}/{t}" for g, t in MUSIC_AVQA_TYPES]
        add(
            "manifest.group_type",
            "group/type not one of the 9 official pairs",
            "group, type",
            gxe.ExpectColumnValuesToBeInSet,
            ("group", "type"),
            value_column="_group_type",
            column="_group_type",
            value_set=pairs,
        )
    if kind == "Utterance":
        if rules.labels is not None:
            in_set("manifest.label_in_set", "label", rules.labels)
        in_set("manifest.gender_in_set", "gender", GENDERS)
    if kind == "Soundscape":
        true("manifest.event_times", "event times invalid", "_event_times_ok", ("events",), why="_why_event_times")
        true(
            "manifest.event_confidence",
            "event confidence outside [0, 1]",
            "_event_confidence_ok",
            ("events",),
            why="_why_event_confidence",
        )
        if rules.labels is not None:
            true(
                "manifest.label_in_set",
                "labels not in the allowed set",
                "_labels_ok",
                ("events", "labels"),
                why="_why_labels",
            )
    if kind == "LabelledClip":
        true("manifest.label_nonempty", "label empty", "_label_ok", ("label",))
        if rules.labels is not None:
            in_set("manifest.label_in_set", "label", rules.labels)
    if kind == "Caption":
        true("manifest.caption_nonempty", "caption empty", "_caption_ok", ("caption",))
    if kind == "CotaRecord":
        true(
            "manifest.answer_letter",
            "answer letter does not name the answer",
            "_answer_letter_ok",
            ("choices", "answer", "answer_letter"),
            why="_why_answer_letter",
        )
    return checks


def _run_gx(work: pd.DataFrame, checks: Sequence[_Check]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``work`` against ``checks``; return ``{check key: GX result}`` and GX's statistics."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            # GX draws "Calculating Metrics" bars even when stderr is not a terminal.
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        ),
    )
    batch_definition = (
        context.data_sources.add_pandas("manifest")
        .add_dataframe_asset("records")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="manifest"))
    for check in checks:
        suite.add_expectation(check.expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="manifest", data=batch_definition, suite=suite)
    )
    run = validation.run(
        batch_parameters={"dataframe": work},
        result_format={
            # COMPLETE lists every offending row: quarantine needs all of them, not a sample.
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [_ROW],
            "return_unexpected_index_query": False,
        },
    )
    # GX does not return results in suite order; match them back by our meta key.
    by_key = {(r.expectation_config.meta or {}).get("check"): r for r in run.results}
    return by_key, dict(run.statistics)


def _failure(check: _Check, result: Any | None, work: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {
        "expectation": type(check.expectation).__name__ if result is None else result.expectation_config.type,
        "check": check.key,
        "description": check.description,
        "column": check.column,
        "n_failed": 0,
        "rows": [],
        "problems": [],
        "records": [],
        "detail": "",
    }
    if result is None:
        out["detail"] = "Great Expectations returned no result for this check"
        return out
    res = dict(result.result or {})
    if check.key == "manifest.columns":
        missing = (res.get("details") or {}).get("mismatched", {}).get("missing") or []
        out["detail"] = "missing: " + ", ".join(sorted(missing))
    elif check.key == "manifest.row_count":
        out["detail"] = f"observed {res.get('observed_value')} records"
    else:
        rows = sorted({int(_plain(e[_ROW])) for e in res.get("unexpected_index_list") or [] if _ROW in e})
        out["rows"] = rows
        out["n_failed"] = len(rows) or int(res.get("unexpected_count") or 0)
        out["problems"] = [_problem(check, work, r) for r in rows]
        out["records"] = [_describe_row(check, work, r) for r in rows[:MAX_LISTED_RECORDS]]
    message = _exception_message(result.exception_info)
    if message:
        out["detail"] = (out["detail"] + "; " if out["detail"] else "") + f"GX error: {message}"
    return out


def _problem(check: _Check, work: pd.DataFrame, row: int) -> str:
    if check.why_column is not None:
        why = work[check.why_column].iat[row]
        if why:
            return f"{check.description}: {why}"
    if check.value_column is not None:
        return f"{check.description}: {_plain(work[check.value_column].iat[row])!r}"
    return check.description


def _describe_row(check: _Check, work: pd.DataFrame, row: int) -> str:
    text = f"{work[_REF_SOURCE].iat[row]} (id {work[_REF_ID].iat[row]})"
    if check.why_column is not None and work[check.why_column].iat[row]:
        return f"{text}: {work[check.why_column].iat[row]}"
    if check.value_column is not None and check.key != "manifest.id_unique":
        text += f" = {_plain(work[check.value_column].iat[row])!r}"
    return text


def _plain(value: Any) -> Any:
    """Unwrap numpy scalars and map NaN to None so values print and serialise plainly."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, tuple)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    return value


def _exception_message(info: Any) -> str:
    # GX puts the exception dict either directly on the result or keyed by metric id.
    if not info:
        return ""
    if "raised_exception" in info:
        return str(info.get("exception_message") or "") if info.get("raised_exception") else ""
    messages = [
        str(v.get("exception_message") or "")
        for v in info.values()
        if isinstance(v, Mapping) and v.get("raised_exception")
    ]
    return "; ".join(m for m in messages if m)


# --------------------------------------------------------------------------- helper columns


def _type_problem(value: Any, tp: Any) -> str | None:
    """Why ``value`` (a JSON value) does not fit annotation ``tp``, or ``None`` when it does."""
    value = _plain(value)
    origin = typing.get_origin(tp)
    if tp is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(tp)
        problems = [_type_problem(value, a) for a in arms]
        return None if any(p is None for p in problems) else next(p for p in problems if p)
    if tp is type(None):
        return None if value is None else f"expected null, got {type(value).__name__}"
    if value is None:
        return "null"
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        if not isinstance(value, Mapping):
            return f"expected an object, got {type(value).__name__}"
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            if f.name in value:
                p = _type_problem(value[f.name], hints[f.name])
                if p:
                    return f"{f.name}: {p}"
        return None
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return f"expected a list, got {type(value).__name__}"
        args = typing.get_args(tp)
        item = args[0] if args else Any
        for i, v in enumerate(value):
            p = _type_problem(v, item)
            if p:
                return f"item {i}: {p}"
        return None
    if origin is dict or tp is dict:
        return None if isinstance(value, Mapping) else f"expected an object, got {type(value).__name__}"
    if tp is bool:
        return None if isinstance(value, bool) else f"expected true/false, got {type(value).__name__}"
    if tp is int:
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else f"expected an integer, got {type(value).__name__}"
        )
    if tp is float:
        return (
            None
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else f"expected a number, got {type(value).__name__}"
        )
    if tp is str:
        return None if isinstance(value, str) else f"expected a string, got {type(value).__name__}"
    return None


def _hashable(value: Any) -> Any:
    """A value GX can look up in a set: strings stay, anything else becomes its JSON text."""
    value = _plain(value)
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _map(df: pd.DataFrame, columns: Sequence[str], fn: Callable[..., Any], dtype: str = "object") -> pd.Series | None:
    if not set(columns) <= set(df.columns):
        return None
    values = [fn(*vals) for vals in zip(*(df[c] for c in columns))] if len(df) else []
    return pd.Series(pd.array(values, dtype=dtype), index=df.index)


def _nonempty(value: Any) -> bool | None:
    value = _plain(value)
    return bool(value.strip()) if isinstance(value, str) else None


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _event_get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, Mapping) else getattr(event, key, None)


def _number(value: Any) -> float | None:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _event_times(events: Any) -> tuple[bool | None, str]:
    if not _is_list(events):
        return None, ""
    bad = []
    for i, e in enumerate(events):
        onset, offset = _number(_event_get(e, "onset")), _number(_event_get(e, "offset"))
        if onset is None or offset is None:
            continue  # a type problem, reported by manifest.field_types
        if not (math.isfinite(onset) and math.isfinite(offset) and 0.0 <= onset < offset):
            bad.append(f"event {i} ({_event_get(e, 'label')}) onset {onset:g} offset {offset:g}")
    return not bad, "; ".join(bad)


def _event_confidence(events: Any) -> tuple[bool | None, str]:
    if not _is_list(events):
        return None, ""
    bad = []
    for i, e in enumerate(events):
        c = _number(_event_get(e, "confidence"))
        if c is not None and not 0.0 <= c <= 1.0:  # NaN fails too
            bad.append(f"event {i} ({_event_get(e, 'label')}) confidence {c:g}")
    return not bad, "; ".join(bad)


def _unknown_labels(events: Any, labels: Any, allowed: frozenset[str]) -> tuple[bool | None, str]:
    if not _is_list(events) or not _is_list(labels):
        return None, ""
    found = [_event_get(e, "label") for e in events] + list(labels)
    unknown = sorted({repr(_plain(x)) for x in found if isinstance(_plain(x), str) and x not in allowed})
    return not unknown, ("unknown " + ", ".join(unknown)) if unknown else ""


def _answer_in_choices(choices: Any, answer: Any, kind: str, extra: Any = None) -> tuple[bool | None, str]:
    if not _is_list(choices) or not isinstance(_plain(answer), str):
        return None, ""
    if kind == "CotaRecord" and not choices:
        return None, ""  # an open question has no choices to be among
    if answer == "" and isinstance(extra, Mapping) and extra.get("answer_hidden") is True:
        return None, ""  # withheld by the publisher (MMAU test-full): nothing to be among
    return (answer in choices), ("" if answer in choices else f"{answer!r} not in {list(choices)!r}")


def _answer_letter(choices: Any, answer: Any, letter: Any) -> tuple[bool | None, str]:
    letter, answer = _plain(letter), _plain(answer)
    if not _is_list(choices) or not isinstance(letter, str) or not isinstance(answer, str):
        return None, ""
    if not choices:
        return (letter == ""), ("" if letter == "" else f"letter {letter!r} on an open question")
    if len(letter) != 1 or not "A" <= letter.upper() <= "Z":
        return False, f"letter {letter!r} is not a single letter"
    index = ord(letter.upper()) - ord("A")
    if index >= len(choices):
        return False, f"letter {letter!r} but only {len(choices)} choices"
    if choices[index] != answer:
        return False, f"letter {letter!r} names {choices[index]!r}, answer is {answer!r}"
    return True, ""


def _with_helper_columns(df: pd.DataFrame, cls: type, rules: ManifestRules) -> pd.DataFrame:
    """Copy ``df`` and add the helper columns the suite checks instead of list-valued ones."""
    work = df.copy()
    n = len(work)
    kind = cls.__name__
    work[_ROW] = range(n)
    if "source" in work.columns:
        work[_REF_SOURCE] = [s if isinstance(s, str) and s else f"row {i}" for i, s in enumerate(work["source"])]
    else:
        work[_REF_SOURCE] = [f"row {i}" for i in range(n)]
    work[_REF_ID] = [_ref_id(v) for v in work["id"]] if "id" in work.columns else ["?"] * n

    hints = typing.get_type_hints(cls)
    typed = [c for c in hints if c in work.columns and not c.startswith("_")]
    why_types = []
    for vals in zip(*(work[c] for c in typed)) if typed and n else ():
        problems = [f"{c}: {p}" for c, v in zip(typed, vals) if (p := _type_problem(v, hints[c]))]
        why_types.append("; ".join(problems))
    if not typed or not n:
        why_types = [""] * n
    work["_why_types"] = why_types
    work["_types_ok"] = [not w for w in why_types]

    for c in ("dataset", "split", "id"):
        if c in work.columns:
            work[f"_key_{c}"] = [_hashable(v) for v in work[c]]
    for c in ("split", "task", "difficulty", "label", "gender", "answer"):
        if c in work.columns:
            work[f"_v_{c}"] = [_hashable(v) for v in work[c]]

    def put(name: str, series: pd.Series | None) -> None:
        if series is not None:
            work[name] = series

    def put_pair(ok_name: str, why_name: str, columns: Sequence[str], fn: Callable[..., tuple[bool | None, str]]):
        if not set(columns) <= set(work.columns):
            return
        pairs = [fn(*vals) for vals in zip(*(work[c] for c in columns))] if n else []
        work[ok_name] = pd.array([p[0] for p in pairs], dtype="boolean")
        work[why_name] = [p[1] for p in pairs]

    put("_question_ok", _map(work, ["question"], _nonempty, "boolean"))
    put("_label_ok", _map(work, ["label"], _nonempty, "boolean"))
    put("_caption_ok", _map(work, ["caption"], _nonempty, "boolean"))
    put("_n_choices", _map(work, ["choices"], lambda c: len(c) if _is_list(c) else None, "Int64"))
    put(
        "_choices_unique",
        _map(
            work,
            ["choices"],
            lambda c: (
                (all(isinstance(x, str) and x.strip() for x in c) and len(set(map(_hashable, c))) == len(c))
                if _is_list(c)
                else None
            ),
            "boolean",
        ),
    )
    answer_columns = ["choices", "answer", *(["extra"] if "extra" in work.columns else [])]

    def answer_check(choices: Any, answer: Any, extra: Any = None) -> tuple[bool | None, str]:
        return _answer_in_choices(choices, answer, kind, extra)

    put_pair("_answer_in_choices", "_why_answer", answer_columns, answer_check)
    put(
        "_group_type",
        _map(work, ["group", "type"], lambda g, t: f"{g}/{t}" if isinstance(g, str) and isinstance(t, str) else None),
    )
    put_pair("_event_times_ok", "_why_event_times", ["events"], _event_times)
    put_pair("_event_confidence_ok", "_why_event_confidence", ["events"], _event_confidence)
    if rules.labels is not None:
        allowed = frozenset(rules.labels)
        put_pair("_labels_ok", "_why_labels", ["events", "labels"], lambda ev, lab: _unknown_labels(ev, lab, allowed))
    put_pair("_answer_letter_ok", "_why_answer_letter", ["choices", "answer", "answer_letter"], _answer_letter)
    return work


def _ref_id(value: Any) -> str:
    value = _plain(value)
    return "null" if value is None else str(value)
