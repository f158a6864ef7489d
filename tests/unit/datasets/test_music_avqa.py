"""MUSIC-AVQA importer: fixtures in the real ``json_update/`` layout, and the real val file."""

from __future__ import annotations

import collections
import doctest
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets import music_avqa
from audioreason.datasets.formats import read_dataset
from audioreason.datasets.music_avqa import (
    ANSWER_VOCAB,
    GROUP_TYPES,
    QUESTION_TYPES,
    group_type,
    read,
    split_of,
    substitute_question,
)
from audioreason.datasets.records import RecordError

REFERENCE_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
REAL_VAL = REFERENCE_DIR / "music-avqa" / "avqa-val.json"


def _item(
    qid: int,
    video_id: str = "00000028",
    *,
    type_=("Audio-Visual", "Existential"),
    content="Is the <Object> in the video always playing?",
    values=("ukulele",),
    deleted=0,
    answer="yes",
):
    return {
        "video_id": video_id,
        "question_id": qid,
        "type": json.dumps(list(type_)),
        "question_content": content,
        "templ_values": json.dumps(list(values)),
        "question_deleted": deleted,
        "anser": answer,
    }


def _write_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(3200) / 16000
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 16000)


def _layout(root: Path, splits: dict[str, list[dict]], videos=("00000028", "vv00003078")) -> Path:
    (root / "json_update").mkdir(parents=True)
    for split, items in splits.items():
        (root / "json_update" / f"avqa-{split}.json").write_text(json.dumps(items))
    for v in videos:
        _write_wav(root / "audio" / f"{v}.wav")
    return root / "json_update"


def test_doctests():
    assert doctest.testmod(music_avqa).failed == 0


def test_vocabulary_and_types():
    assert len(ANSWER_VOCAB) == len(set(ANSWER_VOCAB)) == 42
    assert {"acoustic_guitar", "more than ten", "ten", "simultaneously", "indoor"} <= set(ANSWER_VOCAB)
    assert sum(len(t) for t in QUESTION_TYPES.values()) == len(GROUP_TYPES) == 9
    assert "Audio-Visual/Temporal" in GROUP_TYPES and "Audio/Location" not in GROUP_TYPES


@pytest.mark.parametrize(
    ("content", "values", "expected"),
    [
        ("Is the <Object> in the video always playing?", ["ukulele"], "Is the ukulele in the video always playing"),
        ("How many sounding <Object> in the video？", ["banjo"], "How many sounding banjo in the video"),
        ("Are there <Object> and <Object> sound? ", ["violin", "pipa"], "Are there violin and pipa sound"),
        ("Where is the <FL> sounding instrument?", ["first", "extra"], "Where is the first sounding instrument"),
        (
            "Which is the musical instrument that sounds at the same time as the <Object>?",
            ["pipa"],
            "Which is the musical instrument that sounds at the same time as the pipa",
        ),
        ("How many instruments are sounding in the video?", [], "How many instruments are sounding in the video"),
    ],
)
def test_substitute_question(content, values, expected):
    assert substitute_question(content, values) == expected


def test_substitute_question_too_few_values():
    with pytest.raises(ValueError, match="2 placeholder"):
        substitute_question("Is the <Object> on the <LR> louder?", ["piano"])


def test_split_of_rejects_other_names(tmp_path):
    assert split_of("avqa-train.json") == "train"
    with pytest.raises(RecordError, match="split is unknown"):
        split_of(tmp_path / "avqa_val.json")


def test_reads_folder_with_exact_fields(tmp_path):
    folder = _layout(
        tmp_path / "MUSIC-AVQA",
        {
            "test": [
                _item(
                    30,
                    "vv00003078",
                    type_=("Visual", "Location"),
                    content="Where is the <FL> sounding instrument?",
                    values=("first",),
                    answer="left",
                )
            ],
            "train": [
                _item(1),
                _item(
                    2,
                    type_=("Audio", "Counting"),
                    content="How many <Object> are in the video？",
                    values=("cello",),
                    answer="more than ten",
                ),
            ],
            "val": [
                _item(20, deleted=1),
                _item(
                    21,
                    "vv00003078",
                    type_=("Audio-Visual", "Comparative"),
                    content="Is the <Object> on the <LR> louder than the <Object> on the <LR>? ",
                    values=("flute", "left", "cello", "right"),
                    answer="no",
                ),
            ],
        },
    )
    res = read(folder)
    assert res.format == "music_avqa"
    assert [(r.id, r.split) for r in res.records] == [("1", "train"), ("2", "train"), ("21", "val"), ("30", "test")]
    assert res.filtered == {"question_deleted": 1}
    assert res.quarantined == []
    r = res.records[2]
    assert r.video_id == "vv00003078" and r.dataset == "music_avqa"
    assert r.question == "Is the flute on the left louder than the cello on the right"
    assert r.template == "Is the <Object> on the <LR> louder than the <Object> on the <LR>? "
    assert r.templ_values == ("flute", "left", "cello", "right")
    assert (r.answer, r.group, r.type) == ("no", "Audio-Visual", "Comparative")
    assert group_type(r) == "Audio-Visual/Comparative"
    assert r.audio == str((tmp_path / "MUSIC-AVQA" / "audio" / "vv00003078.wav").resolve())
    assert r.source == f"{folder / 'avqa-val.json'}#1"
    assert res.records[1].question == "How many cello are in the video"
    assert res.records[1].answer == "more than ten"


def test_single_file_and_registry(tmp_path):
    folder = _layout(tmp_path, {"val": [_item(5), _item(6, answer="no")], "train": [_item(1)]})
    res = read_dataset("music_avqa", folder / "avqa-val.json")
    assert [(r.id, r.split, r.answer) for r in res.records] == [("5", "val", "yes"), ("6", "val", "no")]
    assert [r.id for r in read_dataset("music_avqa", folder).records] == ["1", "5", "6"]


def test_folder_without_split_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="none of avqa"):
        read(tmp_path)


BAD_ITEMS = {
    "too few template values": (
        _item(9, content="Is the <Object> on the <LR> playing?", values=("piano",)),
        "2 placeholder",
    ),
    "unknown type": (_item(9, type_=("Audio", "Location")), "not one of the nine"),
    "answer outside vocabulary": (_item(9, answer="harp"), "not in the 42-word"),
    "malformed type json": ({**_item(9), "type": '["Audio", "Counting"'}, "type .* is not valid JSON"),
    "malformed templ_values json": ({**_item(9), "templ_values": "['ukulele']"}, "templ_values .* is not valid JSON"),
    "missing answer key": ({k: v for k, v in _item(9).items() if k != "anser"}, "missing key.*anser"),
    "correctly spelled answer key only": (
        {**{k: v for k, v in _item(9).items() if k != "anser"}, "answer": "yes"},
        "missing key.*anser",
    ),
    "bad question_deleted": (_item(9, deleted=2), "question_deleted must be 0 or 1"),
    "missing audio": (_item(9, "00099999"), "audio file .*00099999.wav does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_bad_record_raises_naming_file_and_record(tmp_path, case):
    item, message = BAD_ITEMS[case]
    folder = _layout(tmp_path, {"val": [_item(1), item]})
    with pytest.raises(RecordError, match=message) as e:
        read(folder)
    assert e.value.source == str(folder / "avqa-val.json")
    assert e.value.record == "#1 (question_id 9)"


def test_bad_records_are_quarantined_and_counted(tmp_path):
    folder = _layout(tmp_path, {"val": [_item(1)] + [item for item, _ in BAD_ITEMS.values()] + [_item(2, deleted=1)]})
    res = read(folder, on_error="quarantine")
    assert [r.id for r in res.records] == ["1"]
    assert len(res.quarantined) == len(BAD_ITEMS)
    assert res.filtered == {"question_deleted": 1}


def test_missing_audio_ignored_without_check(tmp_path):
    folder = _layout(tmp_path, {"val": [_item(9, "00099999")]})
    assert [r.video_id for r in read(folder, check_audio_exists=False).records] == ["00099999"]


def test_duplicate_question_id_across_splits(tmp_path):
    folder = _layout(tmp_path, {"train": [_item(4)], "val": [_item(4)]})
    res = read(folder, on_error="quarantine")
    assert [(r.id, r.split) for r in res.records] == [("4", "train")]
    assert "duplicate question_id 4" in str(res.quarantined[0])


def test_real_val_file_end_to_end():
    if not REAL_VAL.is_file():
        pytest.skip(f"reference file not found at {REAL_VAL}")
    res = read(REAL_VAL, check_audio_exists=False)
    # The real val file holds no deleted questions: all 4568 records are kept.
    assert len(res.records) == 4568
    assert res.filtered == {} and res.quarantined == []
    assert {r.split for r in res.records} == {"val"}
    assert dict(collections.Counter(map(group_type, res.records))) == {
        "Audio-Visual/Counting": 633,
        "Visual/Location": 613,
        "Visual/Counting": 600,
        "Audio-Visual/Comparative": 549,
        "Audio/Counting": 511,
        "Audio-Visual/Existential": 495,
        "Audio-Visual/Location": 461,
        "Audio-Visual/Temporal": 411,
        "Audio/Comparative": 295,
    }
    assert len({r.answer for r in res.records}) == 41 and "ten" not in {r.answer for r in res.records}
    by_id = {r.id: r for r in res.records}
    first = by_id["7"]
    assert (first.video_id, first.question, first.templ_values) == (
        "00000028",
        "Is the ukulele in the video always playing",
        ("ukulele",),
    )
    assert by_id["31"].question == "How many sounding banjo in the video"  # full-width question mark
    assert by_id["4021"].question == "Is the flute on the left louder than the cello on the right"
    assert by_id["1306"].question == "Are there violin and pipa sound"  # template with a trailing space
    assert by_id["37"].question == "How many types of musical instruments sound in the video"
    assert all("<" not in r.question and not r.question.endswith(("?", "？")) for r in res.records)
