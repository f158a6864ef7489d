"""Unit tests for the Great Expectations manifest suite and the combined text report."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from audioreason.datasets.records import MANIFEST_COLUMNS, QARecord, read_manifest, write_manifest
from audioreason.quality.expectations import ManifestReport, records_to_frame, validate_manifest
from audioreason.quality.report import QualityError, QualityReport

SOURCE = "data/avqa/train_qa.json"


def _rec(i: int, **overrides) -> QARecord:
    fields = dict(
        id=str(i),
        dataset="avqa",
        split="train",
        audio=f"/data/avqa/audio/{i}.wav",
        question=f"What is making the sound in clip {i}?",
        choices=("dog", "cat", "car", "bird"),
        answer="dog",
        task="sound",
        category="Reasoning",
        sub_category="Which",
        difficulty="",
        source=f"{SOURCE}#{i}",
    )
    fields.update(overrides)
    return QARecord(**fields)


def _good(n: int = 30) -> list[QARecord]:
    return [_rec(i) for i in range(n)]


def _failure(report: ManifestReport, check: str) -> dict:
    matches = [f for f in report.failures if f["check"] == check]
    assert len(matches) == 1, f"expected one {check!r} failure, got {report.failures}"
    return matches[0]


def test_records_to_frame_has_manifest_columns_and_lists():
    df = records_to_frame(_good(3))
    assert tuple(df.columns) == MANIFEST_COLUMNS
    assert df.loc[0, "choices"] == ["dog", "cat", "car", "bird"]
    assert len(records_to_frame([])) == 0


def test_good_manifest_passes():
    report = validate_manifest(_good(), name="avqa/train")
    assert report.success
    assert report.failures == []
    assert report.n_records == 30
    stats = report.gx_statistics
    assert stats["evaluated_expectations"] == stats["successful_expectations"] > 10


def test_manifest_round_trip_through_jsonl_passes(tmp_path):
    path = tmp_path / "avqa_train.jsonl"
    write_manifest(_good(5), path)
    assert validate_manifest(read_manifest(path), name="avqa/train").success


def test_answer_not_among_choices():
    records = _good()
    records[12] = _rec(12, id="53", answer="lion")
    report = validate_manifest(records, name="avqa/train")
    assert not report.success
    f = _failure(report, "answer_in_choices")
    assert f["description"] == "answer not among choices"
    assert f["expectation"] == "expect_column_values_to_be_in_set"
    assert f["n_failed"] == 1
    assert f["records"] == [f"{SOURCE}#12 (id 53)"]
    assert [x["check"] for x in report.failures] == ["answer_in_choices"]


def test_duplicate_id_within_dataset_split():
    records = _good()
    records[7] = _rec(7, id="3")
    report = validate_manifest(records, name="avqa/train")
    f = _failure(report, "id_unique")
    assert f["expectation"] == "expect_compound_columns_to_be_unique"
    assert f["n_failed"] == 2
    assert sorted(f["records"]) == [f"{SOURCE}#3 (id 3)", f"{SOURCE}#7 (id 3)"]


def test_same_id_in_another_split_is_fine():
    records = _good(5) + [_rec(0, split="test", source="data/avqa/test_qa.json#0")]
    assert validate_manifest(records, name="avqa/all").success


def test_empty_question():
    records = _good()
    records[4] = _rec(4, question="   ")
    f = _failure(validate_manifest(records, name="avqa/train"), "question_ok")
    assert f["records"] == [f"{SOURCE}#4 (id 4)"]


def test_single_choice():
    records = _good()
    records[9] = _rec(9, choices=("dog",))
    report = validate_manifest(records, name="avqa/train")
    f = _failure(report, "n_choices")
    assert f["expectation"] == "expect_column_values_to_be_between"
    assert f["records"] == [f"{SOURCE}#9 (id 9)"]
    assert [x["check"] for x in report.failures] == ["n_choices"]


def test_repeated_choices_and_bad_labels():
    records = _good()
    records[1] = _rec(1, choices=("dog", "dog", "cat"))
    records[2] = _rec(2, task="noise", difficulty="extreme", split="dev")
    report = validate_manifest(records, name="avqa/train")
    assert _failure(report, "choices_unique")["records"] == [f"{SOURCE}#1 (id 1)"]
    # Label checks show the offending value as well as the record.
    assert _failure(report, "task_in_set")["records"] == [f"{SOURCE}#2 (id 2) = 'noise'"]
    assert _failure(report, "difficulty_in_set")["records"] == [f"{SOURCE}#2 (id 2) = 'extreme'"]
    assert _failure(report, "split_in_set")["records"] == [f"{SOURCE}#2 (id 2) = 'dev'"]


def test_allowed_sets_are_configurable():
    records = [_rec(i, split="dev") for i in range(3)]
    assert not validate_manifest(records, name="x/dev").success
    assert validate_manifest(records, name="x/dev", allowed_splits=["dev"]).success


def test_dataframe_problems_without_record_invariants():
    df = records_to_frame(_good())
    df.at[5, "choices"] = "dog,cat"  # not a list
    df.at[6, "id"] = None
    report = validate_manifest(df, name="avqa/train")
    # A non-list is reported once, not again as "answer not among choices".
    assert [x["check"] for x in report.failures] == ["id_not_null", "choices_is_list"]
    assert _failure(report, "choices_is_list")["records"] == [f"{SOURCE}#5 (id 5)"]
    assert _failure(report, "id_not_null")["records"] == [f"{SOURCE}#6 (id null)"]


def test_missing_columns_are_reported_and_rows_fall_back_to_row_numbers():
    records = _good()
    records[3] = _rec(3, answer="lion")
    df = records_to_frame(records).drop(columns=["task", "source"])
    report = validate_manifest(df, name="avqa/train")
    cols = _failure(report, "columns")
    assert cols["detail"] == "missing: source, task"
    assert _failure(report, "answer_in_choices")["records"] == ["row 3 (id 3)"]
    assert not any(f["check"] == "task_in_set" for f in report.failures)


def test_empty_manifest_fails():
    report = validate_manifest([], name="avqa/train")
    assert not report.success
    assert _failure(report, "row_count")["detail"] == "observed 0 records"


def test_record_list_is_capped_but_total_counted():
    records = [_rec(i, answer="lion") for i in range(45)]
    f = _failure(validate_manifest(records, name="avqa/train"), "answer_in_choices")
    assert f["n_failed"] == 45
    assert len(f["records"]) == 20
    text = QualityReport([validate_manifest(records, name="avqa/train")]).to_text()
    assert "... and 25 more" in text


def test_input_frame_is_not_modified():
    df = records_to_frame(_good(5))
    before = df.copy()
    validate_manifest(df, name="avqa/train")
    pd.testing.assert_frame_equal(df, before)


def test_quality_report_text_and_json_name_failing_records():
    bad = _good()
    bad[12] = _rec(12, id="53", answer="lion")
    bad[13] = _rec(13, id="0")
    bad[14] = _rec(14, question="")
    bad[15] = _rec(15, choices=("dog",))
    reports = [
        validate_manifest(bad, name="avqa/train"),
        validate_manifest([dataclasses.replace(r, split="test") for r in _good(3)], name="avqa/test"),
    ]
    report = QualityReport(reports)
    assert not report.success

    text = report.to_text()
    assert text.splitlines()[0].startswith("Quality checks FAILED: 4 manifest check(s) failed in 1 of 2 manifest(s)")
    assert "manifest avqa/test (3 records): ok" in text
    assert "avqa/train: answer not among choices (1 record(s))" in text
    for source in (f"{SOURCE}#12 (id 53)", f"{SOURCE}#13 (id 0)", f"{SOURCE}#0 (id 0)", f"{SOURCE}#14 (id 14)"):
        assert source in text
    assert "number of choices not in 2..8 (1 record(s))" in text
    assert f"{SOURCE}#15 (id 15)" in text

    data = json.loads(json.dumps(report.to_json()))
    assert data["success"] is False
    assert data["manifests"]["avqa/test"]["success"] is True
    checks = {f["check"] for f in data["manifests"]["avqa/train"]["failures"]}
    assert checks == {"id_unique", "question_ok", "n_choices", "answer_in_choices"}
    assert data["audio"] == {"n_checked": 0, "n_failed": 0, "failures": []}

    with pytest.raises(QualityError, match="answer not among choices"):
        report.raise_for_failure()


def test_passing_report_text():
    report = QualityReport([validate_manifest(_good(4), name="avqa/train")])
    assert report.success
    assert report.to_text() == "Quality checks passed: 1 manifest(s), 4 records, 0 audio file(s)."
    report.raise_for_failure()
