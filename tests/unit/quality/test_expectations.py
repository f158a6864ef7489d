"""Unit tests for the Great Expectations suites, one per normalised record type."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from audioreason.datasets.records import (
    Caption,
    CotaRecord,
    LabelledClip,
    OpenQARecord,
    QARecord,
    SoundEvent,
    Soundscape,
    Utterance,
    read_manifest,
    write_manifest,
)
from audioreason.quality.checks import CHECKS
from audioreason.quality.expectations import ManifestReport, ManifestRules, records_to_frame, validate_manifest

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


def _checks(report: ManifestReport) -> list[str]:
    return [f["check"] for f in report.failures]


# --------------------------------------------------------------------------- QARecord


def test_records_to_frame_has_record_columns_and_keeps_values_unconverted():
    df = records_to_frame(_good(3))
    assert tuple(df.columns) == tuple(f.name for f in dataclasses.fields(QARecord))
    assert df.loc[0, "choices"] == ["dog", "cat", "car", "bird"]
    assert all(df[c].dtype == object for c in df.columns)
    assert len(records_to_frame([])) == 0


def test_good_manifest_passes():
    report = validate_manifest(_good(), name="avqa_train")
    assert report.success
    assert report.failures == []
    assert report.n_records == 30 and report.record_type == "QARecord"
    stats = report.gx_statistics
    assert stats["evaluated_expectations"] == stats["successful_expectations"] >= 10


def test_manifest_round_trip_through_jsonl_passes(tmp_path):
    path = tmp_path / "avqa_train.jsonl"
    write_manifest(_good(5), path)
    assert validate_manifest(read_manifest(path), name="avqa_train").success


def test_answer_not_among_choices():
    records = _good()
    records[12] = _rec(12, id="53", answer="lion")
    report = validate_manifest(records, name="avqa_train")
    assert not report.success
    f = _failure(report, "manifest.answer_in_choices")
    assert f["description"] == "answer not among choices"
    assert f["expectation"] == "expect_column_values_to_be_in_set"
    assert f["n_failed"] == 1 and f["rows"] == [12]
    assert f["problems"] == ["answer not among choices: 'lion' not in ['dog', 'cat', 'car', 'bird']"]
    assert f["records"] == [f"{SOURCE}#12 (id 53): 'lion' not in ['dog', 'cat', 'car', 'bird']"]
    assert _checks(report) == ["manifest.answer_in_choices"]
    assert report.row_problems() == {12: [("manifest.answer_in_choices", f["problems"][0])]}


def test_duplicate_id_within_dataset_split_names_every_copy():
    records = _good()
    records[7] = _rec(7, id="3")
    report = validate_manifest(records, name="avqa_train")
    f = _failure(report, "manifest.id_unique")
    assert f["expectation"] == "expect_compound_columns_to_be_unique"
    assert f["rows"] == [3, 7]
    assert f["records"] == [f"{SOURCE}#3 (id 3)", f"{SOURCE}#7 (id 3)"]
    assert f["problems"] == ["duplicate id within dataset/split: '3'"] * 2


def test_same_id_in_another_split_is_fine():
    records = _good(5) + [_rec(0, split="test", source="data/avqa/test_qa.json#0")]
    assert validate_manifest(records, name="avqa_all").success


def test_empty_question():
    records = _good()
    records[4] = _rec(4, question="   ")
    f = _failure(validate_manifest(records, name="avqa_train"), "manifest.question_nonempty")
    assert f["records"] == [f"{SOURCE}#4 (id 4)"]


def test_single_choice():
    records = _good()
    records[9] = _rec(9, choices=("dog",))
    report = validate_manifest(records, name="avqa_train")
    f = _failure(report, "manifest.n_choices")
    assert f["expectation"] == "expect_column_values_to_be_between"
    assert f["records"] == [f"{SOURCE}#9 (id 9) = 1"]
    assert _checks(report) == ["manifest.n_choices"]


def test_repeated_choices_and_bad_labels():
    records = _good()
    records[1] = _rec(1, choices=("dog", "dog", "cat"))
    records[2] = _rec(2, task="noise", difficulty="extreme", split="dev")
    report = validate_manifest(records, name="avqa_train")
    assert _failure(report, "manifest.choices_unique")["records"] == [f"{SOURCE}#1 (id 1)"]
    # Set checks show the offending value as well as the record.
    assert _failure(report, "manifest.task_in_set")["records"] == [f"{SOURCE}#2 (id 2) = 'noise'"]
    assert _failure(report, "manifest.difficulty_in_set")["records"] == [f"{SOURCE}#2 (id 2) = 'extreme'"]
    assert _failure(report, "manifest.split_in_set")["problems"] == [
        "split not in {'train', 'val', 'test', 'test-mini'}: 'dev'"
    ]


def test_allowed_sets_come_from_the_rules():
    records = [_rec(i, split="dev", task="") for i in range(3)]
    assert _checks(validate_manifest(records, name="x")) == ["manifest.split_in_set", "manifest.task_in_set"]
    assert validate_manifest(records, name="x", rules=ManifestRules(splits=["dev"], tasks=[""])).success
    assert validate_manifest(records, name="x", rules=ManifestRules(splits=None, tasks=[""])).success


def test_wrong_field_types_are_reported_once():
    records = _good()
    records[5] = _rec(5, id=5, choices="dog,cat", question=None)
    report = validate_manifest(records, name="avqa_train")
    # The string `choices` is not blamed again by the choice checks, nor the null question.
    assert _checks(report) == ["manifest.field_types"]
    f = _failure(report, "manifest.field_types")
    assert f["rows"] == [5]
    assert f["problems"] == [
        "wrong field type: id: expected a string, got int; question: null; choices: expected a list, got str"
    ]


def test_unhashable_values_in_set_columns_do_not_break_gx():
    records = _good(4)
    records[1] = _rec(1, split=["train"], task={"a": 1})
    report = validate_manifest(records, name="avqa_train")
    assert set(_checks(report)) == {"manifest.field_types", "manifest.split_in_set", "manifest.task_in_set"}
    assert all(f["detail"] == "" for f in report.failures)


def test_dataframe_with_missing_columns_reports_them_and_falls_back_to_row_numbers():
    records = _good()
    records[3] = _rec(3, answer="lion")
    df = records_to_frame(records).drop(columns=["task", "source"])
    report = validate_manifest(df, name="avqa_train")
    cols = _failure(report, "manifest.columns")
    assert cols["detail"] == "missing: source, task" and cols["rows"] == []
    assert _failure(report, "manifest.answer_in_choices")["records"][0].startswith("row 3 (id 3)")
    assert "manifest.task_in_set" not in _checks(report)


def test_empty_manifest_fails():
    report = validate_manifest([], name="avqa_train")
    assert not report.success
    assert _failure(report, "manifest.row_count")["detail"] == "observed 0 records"


def test_listed_records_are_capped_but_every_row_is_kept():
    records = [_rec(i, answer="lion") for i in range(45)]
    report = validate_manifest(records, name="avqa_train")
    f = _failure(report, "manifest.answer_in_choices")
    assert f["n_failed"] == 45 and f["rows"] == list(range(45))
    assert len(f["records"]) == 20
    assert "rows" not in report.to_json()["failures"][0]


def test_input_frame_is_not_modified():
    df = records_to_frame(_good(5))
    before = df.copy()
    validate_manifest(df, name="avqa_train")
    pd.testing.assert_frame_equal(df, before)


def test_every_check_key_is_in_the_catalogue():
    records = _good(3)
    records[0] = _rec(0, id=1, answer="x", choices=("a",), task="t", difficulty="d", split="s", question="")
    report = validate_manifest(records, name="x")
    assert set(_checks(report)) <= set(CHECKS)
    assert len(report.failures) == 7


# --------------------------------------------------------------------------- the other record types


def _open(i: int, **kw) -> OpenQARecord:
    d = dict(
        id=str(i),
        dataset="music_avqa",
        split="val",
        audio=f"/m/{i}.wav",
        video_id=f"{i:08d}",
        question="How many instruments are sounding?",
        answer="two",
        group="Audio",
        type="Counting",
        source=f"avqa-val.json#{i}",
    )
    d.update(kw)
    return OpenQARecord(**d)


def test_open_qa_answer_vocabulary_and_official_types():
    records = [_open(i) for i in range(6)]
    records[1] = _open(1, answer="banana")
    records[2] = _open(2, group="Visual", type="Temporal")  # not one of the nine pairs
    records[3] = _open(3, type="Counting ")
    rules = ManifestRules(splits=["val"], answer_vocab=["yes", "no", "two"])
    report = validate_manifest(records, name="music_avqa_val", record_type="OpenQARecord", rules=rules)
    assert _checks(report) == ["manifest.answer_in_vocab", "manifest.group_type"]
    assert _failure(report, "manifest.answer_in_vocab")["problems"] == [
        "answer not in the 3-word answer vocabulary: 'banana'"
    ]
    assert _failure(report, "manifest.group_type")["rows"] == [2, 3]
    assert _failure(report, "manifest.group_type")["problems"][0].endswith(": 'Visual/Temporal'")


def _utt(i: int, **kw) -> Utterance:
    d = dict(
        id=f"Ses01F_impro01_F{i:03d}",
        dataset="iemocap",
        split="train",
        audio=f"/i/{i}.wav",
        speaker="Ses01_F",
        gender="F",
        label="neu",
        source=f"Ses01F_impro01.txt#{i}",
    )
    d.update(kw)
    return Utterance(**d)


def test_utterance_label_and_gender():
    records = [_utt(i) for i in range(5)]
    records[1] = _utt(1, label="exc")  # must have been mapped to hap
    records[2] = _utt(2, gender="female")
    rules = ManifestRules(splits=["train", "test"], labels=["ang", "hap", "neu", "sad"])
    report = validate_manifest(records, name="iemocap", record_type=Utterance, rules=rules)
    assert _checks(report) == ["manifest.label_in_set", "manifest.gender_in_set"]
    assert _failure(report, "manifest.label_in_set")["records"] == [
        "Ses01F_impro01.txt#1 (id Ses01F_impro01_F001) = 'exc'"
    ]
    assert _failure(report, "manifest.gender_in_set")["rows"] == [2]
    # Without a label set (VCTK carries no emotion) only gender is checked.
    report = validate_manifest(
        [_utt(0, label="", gender="")], name="vctk", record_type="Utterance", rules=ManifestRules(splits=["train"])
    )
    assert report.success


def _scape(i: int, events=((0.5, 1.5, "Dog", 1.0),), labels=("Dog",), **kw) -> Soundscape:
    d = dict(
        id=f"clip_{i}",
        dataset="desed",
        split="validation",
        audio=f"/d/{i}.wav",
        scene="home",
        events=tuple(SoundEvent(*e) for e in events),
        labels=labels,
        source=f"validation.tsv#{i}",
    )
    d.update(kw)
    return Soundscape(**d)


def test_soundscape_event_times_confidence_and_labels():
    records = [_scape(i) for i in range(6)]
    records[1] = _scape(1, events=((2.0, 1.0, "Dog", 1.0),))
    records[2] = _scape(2, events=((-0.1, 1.0, "Dog", 1.0),))
    records[3] = _scape(3, events=((0.0, 1.0, "Dog", 1.7),))
    records[4] = _scape(4, events=((0.0, 1.0, "Zebra", 1.0),), labels=("Zebra",))
    records[5] = _scape(5, events=(), labels=("Cat", "Unicorn"), strong=False)
    rules = ManifestRules(splits=["validation"], labels=["Dog", "Cat"])
    report = validate_manifest(records, name="desed", record_type="Soundscape", rules=rules)
    assert _checks(report) == ["manifest.event_times", "manifest.event_confidence", "manifest.label_in_set"]
    times = _failure(report, "manifest.event_times")
    assert times["rows"] == [1, 2]
    assert times["problems"] == [
        "event times invalid: event 0 (Dog) onset 2 offset 1",
        "event times invalid: event 0 (Dog) onset -0.1 offset 1",
    ]
    assert _failure(report, "manifest.event_confidence")["problems"] == [
        "event confidence outside [0, 1]: event 0 (Dog) confidence 1.7"
    ]
    labels = _failure(report, "manifest.label_in_set")
    assert labels["rows"] == [4, 5]
    assert labels["problems"][1] == "labels not in the allowed set: unknown 'Unicorn'"


def test_soundscape_event_with_wrong_type_is_a_field_type_problem():
    bad = dataclasses.replace(_scape(0), events=(SoundEvent("0.5", 1.0, "Dog"),))
    report = validate_manifest(
        [bad, _scape(1)],
        name="desed",
        record_type="Soundscape",
        rules=ManifestRules(splits=["validation"], labels=["Dog"]),
    )
    assert _checks(report) == ["manifest.field_types"]
    assert _failure(report, "manifest.field_types")["problems"] == [
        "wrong field type: events: item 0: onset: expected a number, got str"
    ]


def test_labelled_clip_and_caption_non_empty():
    clips = [
        LabelledClip(
            id=f"y{i}_000010", dataset="vggsound", split="train", audio=f"/v/{i}.wav", label="dog barking" if i else " "
        )
        for i in range(3)
    ]
    report = validate_manifest(
        clips, name="vggsound", record_type="LabelledClip", rules=ManifestRules(splits=["train"])
    )
    assert _checks(report) == ["manifest.label_nonempty"] and _failure(report, "manifest.label_nonempty")["rows"] == [0]
    caps = [
        Caption(id=f"y{i}", dataset="audiosetcaps", caption="" if i == 2 else "A dog barks.", corpus="audioset")
        for i in range(3)
    ] + [Caption(id="y0", dataset="audiosetcaps", caption="again", corpus="audioset")]
    report = validate_manifest(caps, name="audiosetcaps", record_type="Caption")
    # A Caption has no split: ids are unique within the dataset.
    assert _checks(report) == ["manifest.id_unique", "manifest.caption_nonempty"]
    assert _failure(report, "manifest.id_unique")["description"] == "duplicate id within dataset"
    assert _failure(report, "manifest.id_unique")["rows"] == [0, 3]


def _cota(i: int, **kw) -> CotaRecord:
    d = dict(
        id=f"train-{i}",
        dataset="cota",
        split="train",
        audio=f"/c/train.parquet#{i}",
        question="What is it?",
        choices=("a dog", "a cat", "a bell"),
        answer="a cat",
        answer_letter="B",
        planning="p",
        caption="c",
        reasoning="r",
        summary="s",
        response="The answer is B.",
        source=f"train.parquet#{i}",
    )
    d.update(kw)
    return CotaRecord(**d)


def test_cota_answer_among_choices_and_letter():
    records = [_cota(i) for i in range(6)]
    records[1] = _cota(1, answer_letter="C")
    records[2] = _cota(2, answer="a horse", answer_letter="B")
    records[3] = _cota(3, choices=(), answer="a cat purring", answer_letter="")  # open question: fine
    records[4] = _cota(4, answer_letter="E")
    report = validate_manifest(records, name="cota", record_type="CotaRecord", rules=ManifestRules(splits=["train"]))
    assert _checks(report) == ["manifest.answer_in_choices", "manifest.answer_letter"]
    assert _failure(report, "manifest.answer_in_choices")["rows"] == [2]
    letter = _failure(report, "manifest.answer_letter")
    assert letter["rows"] == [1, 2, 4]
    assert (
        letter["problems"][0] == "answer letter does not name the answer: letter 'C' names 'a bell', answer is 'a cat'"
    )
    assert letter["problems"][2].endswith("letter 'E' but only 3 choices")


def test_unknown_record_type():
    with pytest.raises(ValueError, match="unknown record type 'Nope'"):
        validate_manifest([], name="x", record_type="Nope")
