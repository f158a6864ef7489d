"""Tests of the ARC importer on fixtures in the release layout, and of text-only records in the quality gate."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audioreason.datasets.arc import read_arc
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.inspect import inspect_dataset
from audioreason.datasets.records import QARecord, RecordError, read_manifest, write_manifest
from audioreason.quality.checks import Policy
from audioreason.quality.expectations import ManifestRules
from audioreason.quality.gate import ManifestSpec, run_quality_gate


def arc_line(ident: str, texts: list[str], answer_key: str, labels: str | list[str] = "ABCDE", **overrides) -> dict:
    """One line of ``ARC-Easy-*.jsonl`` as released."""
    record = {
        "id": ident,
        "question": {
            "stem": f"Question {ident}: which one?",
            "choices": [{"text": t, "label": lab} for t, lab in zip(texts, labels)],
        },
        "answerKey": answer_key,
    }
    record.update(overrides)
    return record


LINES = [
    arc_line("Mercury_7220990", ["color", "hardness", "luster", "streak"], "D"),
    arc_line("MCAS_2000_4_6", ["cellular telephone", "television", "refrigerator", "airplane"], "A"),
    arc_line("NYSEDREGENTS_2015_4_24", ["sunlight", "soil", "wind", "sound"], "3", labels="1234"),
    arc_line("Mercury_SC_415702", ["dry palms", "wet palms", "oily palms"], "B"),
    arc_line("TIMSS_2003_8_pg33", ["gas", "liquid", "solid", "plasma", "gel"], "E"),
]


def write_jsonl(path: Path, lines: list, raw: list[str] = ()) -> Path:
    """``lines`` as compact JSON (the release's style), then ``raw`` text lines verbatim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines) + "".join(r + "\n" for r in raw)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    """``ARC-V1-Feb2018-2/ARC-Easy/`` with Train (the five lines), Dev and Test files."""
    root = tmp_path / "ARC-V1-Feb2018-2" / "ARC-Easy"
    write_jsonl(root / "ARC-Easy-Train.jsonl", LINES)
    write_jsonl(root / "ARC-Easy-Dev.jsonl", [arc_line("Mercury_1", ["up", "down"], "A")])
    write_jsonl(root / "ARC-Easy-Test.jsonl", [arc_line("Mercury_2", ["hot", "cold", "warm", "cool"], "2", "1234")])
    return root


def test_answer_is_the_text_of_the_labelled_choice(release: Path):
    path = release / "ARC-Easy-Train.jsonl"
    recs = read_arc(path).records
    assert [r.answer for r in recs] == ["streak", "cellular telephone", "wind", "wet palms", "gel"]
    assert [len(r.choices) for r in recs] == [4, 4, 4, 3, 5]
    first, numeric = recs[0], recs[2]
    assert first.choices == ("color", "hardness", "luster", "streak") and first.answer_index == 3
    assert first.question == "Question Mercury_7220990: which one?"
    assert (first.id, first.dataset, first.split, first.audio) == ("Mercury_7220990", "arc_easy", "train", "")
    assert (first.task, first.category, first.sub_category, first.difficulty) == ("", "", "", "")
    assert first.source == f"{path}#1" and recs[4].source == f"{path}#5"
    assert numeric.extra == {"labels": ["1", "2", "3", "4"], "answer_key": "3"}


def test_folder_reads_every_split(release: Path):
    # A stray file beside the release files is not an ARC split.
    (release / "notes.jsonl").write_text('{"id": "x"}\n')
    recs = read_arc(release).records
    assert [(r.id, r.split) for r in recs] == [
        ("Mercury_1", "val"),
        ("Mercury_2", "test"),
        *[(x["id"], "train") for x in LINES],
    ]
    assert recs[1].answer == "cold"


def test_challenge_file_names_its_dataset(tmp_path: Path):
    path = write_jsonl(tmp_path / "ARC-Challenge-Dev.jsonl", LINES[:1])
    (rec,) = read_arc(path).records
    assert (rec.dataset, rec.split) == ("arc_challenge", "val")


def test_answer_key_matching_no_label_names_file_and_line(tmp_path: Path):
    bad = arc_line("Mercury_400", ["a", "b", "c", "d"], "E")
    path = write_jsonl(tmp_path / "ARC-Easy-Train.jsonl", [LINES[0], bad])
    with pytest.raises(RecordError) as excinfo:
        read_arc(path)
    msg = str(excinfo.value)
    assert str(path) in msg and "line 2 (id Mercury_400)" in msg
    assert "answerKey 'E' matches no choice label ['A', 'B', 'C', 'D']" in msg


@pytest.mark.parametrize(
    "line, problem",
    [
        (arc_line("L1", ["a", "b"], "C"), "answerKey 'C' matches no choice label"),
        (arc_line("L2", ["a"], "A"), "at least two choices"),
        (arc_line("L3", ["a", "a", "b"], "A"), "non-empty and distinct"),
        (arc_line("L4", ["a", " ", "b"], "A"), "non-empty and distinct"),
        (arc_line("L5", ["a", "b"], "A", labels="AA"), "labels must be distinct"),
        (arc_line("L6", ["a", "b"], "A", question={"stem": "  ", "choices": []}), "empty question stem"),
        (
            {"id": "L7", "question": {"stem": "q", "choices": [{"text": "a"}, {"text": "b"}]}, "answerKey": "A"},
            "choice 0",
        ),
        ({"id": "L8", "question": {"stem": "q", "choices": []}}, "missing key(s) answerKey"),
        (arc_line(LINES[0]["id"], ["a", "b"], "A"), "duplicate id Mercury_7220990"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_malformed_lines_are_quarantined_and_counted(tmp_path: Path, line, problem):
    path = write_jsonl(tmp_path / "ARC-Easy-Train.jsonl", [LINES[0], line, LINES[1]])
    result = read_arc(path, on_error="quarantine")
    assert [r.id for r in result.records] == ["Mercury_7220990", "MCAS_2000_4_6"]
    (err,) = result.quarantined
    assert err.source == str(path) and err.record.startswith("line 2") and problem in err.problem


def test_broken_json_line_is_one_bad_record(tmp_path: Path):
    path = write_jsonl(tmp_path / "ARC-Easy-Train.jsonl", LINES[:2], raw=["", '{"id": "cut', ""])
    result = read_arc(path, on_error="quarantine")
    assert len(result.records) == 2
    (err,) = result.quarantined
    assert err.record == "line 4" and "not a JSON line" in err.problem
    with pytest.raises(RecordError, match="line 4"):
        read_arc(path)


def test_empty_folder_is_an_error(tmp_path: Path):
    with pytest.raises(RecordError, match="no ARC-"):
        read_arc(tmp_path)


def test_hugging_face_parquet(tmp_path: Path):
    # allenai/ai2_arc: question is the stem, choices a struct of parallel text / label lists.
    rows = [
        {"id": x["id"], "question": x["question"]["stem"], "answerKey": x["answerKey"]}
        | {
            "choices": {
                "text": [c["text"] for c in x["question"]["choices"]],
                "label": [c["label"] for c in x["question"]["choices"]],
            }
        }
        for x in LINES
    ]
    path = tmp_path / "ARC-Easy" / "train-00000-of-00001.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path)
    recs = read_arc(path).records
    assert [r.answer for r in recs] == ["streak", "cellular telephone", "wind", "wet palms", "gel"]
    assert {(r.dataset, r.split, r.audio) for r in recs} == {("arc_easy", "train", "")}
    assert recs[0].source == f"{path}#0"


def test_registry_and_inspect(release: Path):
    path = release / "ARC-Easy-Train.jsonl"
    result = read_dataset("arc", path, on_error="quarantine", check_audio_exists=True)
    assert result.format == "arc" and len(result.records) == 5
    summary = inspect_dataset("arc", path)
    assert (summary["records"], summary["quarantined"], "tasks" in summary) == (5, 0, False)


def test_manifest_round_trip_keeps_text_only_records(release: Path, tmp_path: Path):
    recs = read_arc(release / "ARC-Easy-Train.jsonl").records
    write_manifest(recs, tmp_path / "arc_easy.jsonl")
    back = read_manifest(tmp_path / "arc_easy.jsonl", QARecord)
    assert back == recs and all(r.audio == "" for r in back)
    assert back[2].extra == {"labels": ["1", "2", "3", "4"], "answer_key": "3"}


def _gate(release: Path, tmp_path: Path, *, check_audio: bool):
    recs = read_arc(release / "ARC-Easy-Train.jsonl").records
    write_manifest(recs, tmp_path / "arc_easy.jsonl")
    spec = ManifestSpec(
        name="arc_easy",
        record_type="QARecord",
        path=tmp_path / "arc_easy.jsonl",
        expected_n=len(recs),
        rules=ManifestRules(splits=["train"], tasks=[""], difficulties=[""]),
        check_audio=check_audio,
    )
    return run_quality_gate([spec], policy=Policy({"default": "fail"}))


def test_text_only_manifest_passes_the_gate_without_audio_checks(release: Path, tmp_path: Path):
    result = _gate(release, tmp_path, check_audio=False)
    assert result.report.success and len(result.kept["arc_easy"]) == 5
    assert result.report.findings == [] and result.report.audio == []


def test_text_only_record_in_a_manifest_with_audio_checks_is_a_finding(release: Path, tmp_path: Path):
    # Before: an empty audio path was skipped, so a text-only manifest passed "audio checks" unchecked.
    result = _gate(release, tmp_path, check_audio=True)
    assert not result.report.success
    assert [(f.check, f.row, f.action) for f in result.report.findings] == [
        ("audio.missing", row, "fail") for row in range(5)
    ]
    assert "text-only record" in result.report.findings[0].problem
