"""Great Expectations (GX Core 1.x) suite over a question-answer manifest.

The suite runs on a pandas DataFrame with one row per :class:`QARecord`. Checks
that GX cannot express on a column of Python lists (``choices``) are turned
into boolean/number helper columns first (``n_choices``, ``answer_in_choices``,
``choices_unique``, ...), which GX then checks with plain set and range
expectations. Every failing row is named by its ``source`` (``<file>#<index>``)
and ``id`` so the user can find the raw record.

Great Expectations is imported lazily, inside :func:`validate_manifest`: the
import alone takes seconds, and importing this module must stay cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import pandas as pd

from audioreason.datasets.records import MANIFEST_COLUMNS, QARecord

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.expectations import Expectation

__all__ = [
    "DEFAULT_DIFFICULTIES",
    "DEFAULT_SPLITS",
    "DEFAULT_TASKS",
    "MAX_LISTED_RECORDS",
    "ManifestReport",
    "records_to_frame",
    "validate_manifest",
]

DEFAULT_SPLITS: tuple[str, ...] = ("train", "val", "test", "test-mini")
DEFAULT_TASKS: tuple[str, ...] = ("sound", "music", "speech")
DEFAULT_DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard", "")

#: How many offending records a failure lists by name; ``n_failed`` has the total.
MAX_LISTED_RECORDS = 20

# Helper columns that name a row in GX's unexpected_index_list; they fall back to
# the row number when a (non-QARecord) frame lacks ``source``/``id``.
_REF_SOURCE = "ref_source"
_REF_ID = "ref_id"


@dataclass
class ManifestReport:
    """The outcome of the manifest expectation suite on one manifest.

    Attributes:
        name: The manifest's name as shown to the user (e.g. ``avqa/train``).
        n_records: Number of rows validated.
        success: ``True`` when every expectation passed.
        failures: One dict per failed expectation, in suite order, with keys
            ``expectation`` (GX type), ``check`` (short key), ``description``
            (what is wrong, in words), ``column``, ``n_failed`` (total offending
            rows), ``records`` (at most :data:`MAX_LISTED_RECORDS` strings
            ``"<source> (id <id>)"``, with the offending value for data columns)
            and ``detail`` (extra text, e.g. the missing column names).
        gx_statistics: GX's validation statistics (evaluated/successful counts).
    """

    name: str
    n_records: int
    success: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    gx_statistics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of this report."""
        return {
            "name": self.name,
            "n_records": self.n_records,
            "success": self.success,
            "failures": [dict(f) for f in self.failures],
            "gx_statistics": dict(self.gx_statistics),
        }


def records_to_frame(records: Iterable[QARecord | Mapping[str, Any]]) -> pd.DataFrame:
    """Turn records into a DataFrame with exactly the manifest columns.

    Args:
        records: :class:`QARecord` objects or their JSON dicts (``choices`` as a list).

    Returns:
        A DataFrame with columns :data:`MANIFEST_COLUMNS`, ``choices`` as Python lists.
    """
    rows = []
    for r in records:
        d = r.to_json() if isinstance(r, QARecord) else dict(r)
        if isinstance(d.get("choices"), tuple):
            d["choices"] = list(d["choices"])
        rows.append(d)
    return pd.DataFrame.from_records(rows, columns=list(MANIFEST_COLUMNS))


def validate_manifest(
    df_or_records: pd.DataFrame | Iterable[QARecord | Mapping[str, Any]],
    *,
    name: str,
    allowed_splits: Sequence[str] = DEFAULT_SPLITS,
    allowed_tasks: Sequence[str] = DEFAULT_TASKS,
    allowed_difficulties: Sequence[str] = DEFAULT_DIFFICULTIES,
    min_choices: int = 2,
    max_choices: int = 8,
    min_records: int = 1,
) -> ManifestReport:
    """Run the manifest expectation suite and collect the failing records.

    A fresh in-memory GX context is created for each call (nothing is written
    to disk and no state leaks between calls); GX's progress bars are off.

    Args:
        df_or_records: A manifest DataFrame (as from :func:`records_to_frame`) or records.
        name: The manifest's name for the report (e.g. ``avqa/train``).
        allowed_splits: Values ``split`` may take.
        allowed_tasks: Values ``task`` may take.
        allowed_difficulties: Values ``difficulty`` may take (``""`` = not graded).
        min_choices: Fewest answer options a question may have.
        max_choices: Most answer options a question may have.
        min_records: Fewest rows the manifest may have (an empty manifest fails by default).

    Returns:
        A :class:`ManifestReport`.
    """
    # GX 1.24 ships no analytics code; the variable keeps telemetry off on versions that do.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if isinstance(df_or_records, pd.DataFrame):
        df = df_or_records
    else:
        df = records_to_frame(df_or_records)
    work = _with_helper_columns(df)
    checks = _build_checks(
        present=set(df.columns),
        allowed_splits=allowed_splits,
        allowed_tasks=allowed_tasks,
        allowed_difficulties=allowed_difficulties,
        min_choices=min_choices,
        max_choices=max_choices,
        min_records=min_records,
    )
    results, statistics = _run_gx(work, checks)

    failures: list[dict[str, Any]] = []
    for check in checks:
        result = results.get(check.key)
        if result is None:
            failures.append(_failure(check, None))
        elif not result.success:
            failures.append(_failure(check, result))
    return ManifestReport(
        name=name,
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
    show_value: bool = False


def _build_checks(
    *,
    present: set[str],
    allowed_splits: Sequence[str],
    allowed_tasks: Sequence[str],
    allowed_difficulties: Sequence[str],
    min_choices: int,
    max_choices: int,
    min_records: int,
) -> list[_Check]:
    import great_expectations.expectations as gxe

    checks: list[_Check] = []

    def add(
        key: str,
        description: str,
        shown: str | None,
        exp_cls: type,
        needs: Iterable[str],
        /,
        show_value: bool = False,
        **kw: Any,
    ) -> None:
        # A check on an absent column would only repeat "column missing" as a GX
        # exception traceback; the columns check already reports it.
        if not set(needs) <= present:
            return
        checks.append(_Check(key, description, shown, exp_cls(meta={"check": key}, **kw), show_value))

    add(
        "columns",
        "manifest columns missing",
        None,
        gxe.ExpectTableColumnsToMatchSet,
        (),
        column_set=list(MANIFEST_COLUMNS),
        exact_match=False,
    )
    add(
        "row_count",
        "too few records",
        None,
        gxe.ExpectTableRowCountToBeBetween,
        (),
        min_value=min_records,
    )
    for col in ("id", "dataset", "split", "audio"):
        add(f"{col}_not_null", f"{col} is null", col, gxe.ExpectColumnValuesToNotBeNull, (col,), column=col)
    add(
        "id_unique",
        "duplicate id within dataset/split",
        "dataset, split, id",
        gxe.ExpectCompoundColumnsToBeUnique,
        ("dataset", "split", "id"),
        column_list=["dataset", "split", "id"],
    )
    add(
        "question_ok",
        "question empty or not a string",
        "question_ok",
        gxe.ExpectColumnValuesToBeInSet,
        ("question",),
        column="question_ok",
        value_set=[True],
    )
    add(
        "choices_is_list",
        "choices not a list",
        "choices_is_list",
        gxe.ExpectColumnValuesToBeInSet,
        ("choices",),
        column="choices_is_list",
        value_set=[True],
    )
    add(
        "n_choices",
        f"number of choices not in {min_choices}..{max_choices}",
        "n_choices",
        gxe.ExpectColumnValuesToBeBetween,
        ("choices",),
        column="n_choices",
        min_value=min_choices,
        max_value=max_choices,
    )
    add(
        "choices_unique",
        "repeated or empty choices",
        "choices_unique",
        gxe.ExpectColumnValuesToBeInSet,
        ("choices",),
        column="choices_unique",
        value_set=[True],
    )
    add(
        "answer_in_choices",
        "answer not among choices",
        "answer_in_choices",
        gxe.ExpectColumnValuesToBeInSet,
        ("choices", "answer"),
        column="answer_in_choices",
        value_set=[True],
    )
    for col, allowed in (
        ("task", allowed_tasks),
        ("difficulty", allowed_difficulties),
        ("split", allowed_splits),
    ):
        shown = ", ".join(repr(v) for v in allowed)
        add(
            f"{col}_in_set",
            f"{col} not in {{{shown}}}",
            col,
            gxe.ExpectColumnValuesToBeInSet,
            (col,),
            show_value=True,
            column=col,
            value_set=list(allowed),
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
            # SUMMARY caps the per-row lists at partial_unexpected_count; COMPLETE
            # would list every offending row of a badly broken manifest.
            "result_format": "SUMMARY",
            "partial_unexpected_count": MAX_LISTED_RECORDS,
            "unexpected_index_column_names": [_REF_SOURCE, _REF_ID],
        },
    )
    # GX does not return results in suite order; match them back by our meta key.
    by_key = {(r.expectation_config.meta or {}).get("check"): r for r in run.results}
    return by_key, dict(run.statistics)


def _failure(check: _Check, result: Any | None) -> dict[str, Any]:
    if result is None:
        return {
            "expectation": type(check.expectation).__name__,
            "check": check.key,
            "description": check.description,
            "column": check.column,
            "n_failed": 0,
            "records": [],
            "detail": "Great Expectations returned no result for this check",
        }
    res = dict(result.result or {})
    detail = ""
    records: list[str] = []
    n_failed = int(res.get("unexpected_count") or 0)
    if check.key == "columns":
        missing = (res.get("details") or {}).get("mismatched", {}).get("missing") or []
        detail = "missing: " + ", ".join(sorted(missing))
    elif check.key == "row_count":
        detail = f"observed {res.get('observed_value')} records"
    else:
        for entry in res.get("partial_unexpected_index_list") or []:
            records.append(_describe_row(entry, check.column if check.show_value else None))
    message = _exception_message(result.exception_info)
    if message:
        detail = (detail + "; " if detail else "") + f"GX error: {message}"
    return {
        "expectation": result.expectation_config.type,
        "check": check.key,
        "description": check.description,
        "column": check.column,
        "n_failed": n_failed,
        "records": records[:MAX_LISTED_RECORDS],
        "detail": detail,
    }


def _describe_row(entry: Mapping[str, Any], value_column: str | None) -> str:
    text = f"{entry.get(_REF_SOURCE, '?')} (id {entry.get(_REF_ID, '?')})"
    if value_column is not None and value_column in entry:
        text += f" = {_plain(entry[value_column])!r}"
    return text


def _plain(value: Any) -> Any:
    """Unwrap numpy scalars and map NaN to None so values print and serialise plainly."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
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


def _with_helper_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Copy ``df`` and add the helper columns the suite checks instead of list-valued ones."""
    work = df.copy()
    n = len(work)
    positions = range(n)
    if "source" in work.columns:
        work[_REF_SOURCE] = [
            s if isinstance(s, str) and s else f"row {i}" for i, s in zip(positions, work["source"])
        ]
    else:
        work[_REF_SOURCE] = [f"row {i}" for i in positions]
    if "id" in work.columns:
        work[_REF_ID] = [_ref_id(v) for v in work["id"]]
    else:
        work[_REF_ID] = ["?"] * n
    if "question" in work.columns:
        work["question_ok"] = [isinstance(q, str) and bool(q.strip()) for q in work["question"]]
    if "choices" in work.columns:
        choices = list(work["choices"])
        is_list = [isinstance(c, (list, tuple)) for c in choices]
        work["choices_is_list"] = is_list
        # Not a list -> missing (None): ExpectColumnValuesToBeBetween skips it and
        # choices_is_list reports the row instead, so it is not blamed twice.
        work["n_choices"] = pd.array([len(c) if ok else None for c, ok in zip(choices, is_list)], dtype="Int64")
        # Like n_choices, these stay missing for non-lists so GX skips those rows.
        work["choices_unique"] = pd.array(
            [
                all(isinstance(x, str) and x.strip() for x in c) and len(set(c)) == len(c) if ok else None
                for c, ok in zip(choices, is_list)
            ],
            dtype="boolean",
        )
        if "answer" in work.columns:
            work["answer_in_choices"] = pd.array(
                [isinstance(a, str) and a in c if ok else None for c, a, ok in zip(choices, work["answer"], is_list)],
                dtype="boolean",
            )
    return work


def _ref_id(value: Any) -> str:
    value = _plain(value)
    return "null" if value is None else str(value)
