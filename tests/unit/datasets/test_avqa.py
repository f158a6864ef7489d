"""Tests of the AVQA importer (FORMATS.md layout): video names, the audio variant, errors that name the record."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from audioreason.datasets.avqa import read_avqa, split_video_name, to_audio_question
from audioreason.datasets.records import RecordError
from helpers import AVQA_RECORDS, write_avqa


@pytest.fixture()
def avqa_dir(tmp_path: Path) -> Path:
    return write_avqa(tmp_path / "avqa")


def _write_avqa(root: Path, records: list[dict]) -> Path:
    path = root / "train_qa.json"
    path.write_text(json.dumps(records))
    return path


def test_split_video_name_last_underscore():
    assert split_video_name("-HG3Omg_89c_000030") == ("-HG3Omg_89c", 30)
    assert split_video_name("a_b-c_d_000120") == ("a_b-c_d", 120)
    assert split_video_name("abc__000000") == ("abc_", 0)
    for bad in ("nounderscore", "_000030", "abc_12x"):
        with pytest.raises(ValueError, match=bad):
            split_video_name(bad)


def test_to_audio_question():
    assert to_audio_question("What is making the sound in the video?") == "What is making the sound in the audio?"
    assert to_audio_question("Video shows what?") == "Audio shows what?"
    assert to_audio_question("The videos are long") == "The videos are long"  # whole word only


def test_read_avqa(avqa_dir: Path):
    qa = avqa_dir / "train_qa.json"
    recs = read_avqa(qa, avqa_dir / "audio", "train").records
    assert len(recs) == 2
    r0, r1 = recs
    assert r0.id == "7" and r0.dataset == "avqa" and r0.split == "train"
    assert r0.extra["ytid"] == "-HG3Omg_89c"
    assert r0.extra["start_s"] == 30
    assert r0.extra["video_name"] == "-HG3Omg_89c_000030"
    assert r0.extra["video_id"] == 1042
    assert r1.extra["ytid"] == "a_b-c_d" and r1.extra["start_s"] == 120
    assert r0.question == "What is making the sound in the audio?"
    assert r1.question == "Audio shows what? Is the Audio loud? videos"
    # The null slot is dropped; the answer (index 3 in the raw four slots) is mapped.
    assert r0.choices == ("dog", "cat", "car")
    assert r0.answer == "car" and r0.answer_index == 2
    assert r1.choices == ("piano", "flute", "violin", "drum") and r1.answer == "piano"
    assert r0.category == "Sound" and r0.sub_category == "Come From"
    assert r0.task == "" and r0.difficulty == ""
    assert r0.audio == str((avqa_dir / "audio" / "-HG3Omg_89c_000030.wav").resolve())
    assert Path(r0.audio).is_absolute() and Path(r0.audio).is_file()
    assert r0.source == f"{qa}#0" and r1.source == f"{qa}#1"


def test_read_avqa_keeps_video_without_audio_variant(avqa_dir: Path):
    recs = read_avqa(avqa_dir / "train_qa.json", avqa_dir / "audio", "val", audio_variant=False).records
    assert recs[0].question == "What is making the sound in the video?"
    assert recs[1].question == AVQA_RECORDS[1]["question_text"]
    assert recs[0].split == "val"


def _avqa_error(avqa_dir: Path, index: int, mutate) -> str:
    records = copy.deepcopy(AVQA_RECORDS)
    mutate(records[index])
    qa = _write_avqa(avqa_dir, records)
    with pytest.raises(RecordError) as excinfo:
        read_avqa(qa, avqa_dir / "audio", "train")
    msg = str(excinfo.value)
    assert str(qa) in msg
    assert f"#{index}" in msg
    assert f"id {records[index]['id']}" in msg
    assert excinfo.value.source == str(qa)
    return msg


def test_avqa_missing_multi_choice(avqa_dir: Path):
    msg = _avqa_error(avqa_dir, 1, lambda r: r.pop("multi_choice"))
    assert "missing" in msg and "multi_choice" in msg


def test_avqa_answer_out_of_range(avqa_dir: Path):
    msg = _avqa_error(avqa_dir, 1, lambda r: r.update(answer=4))
    assert "answer 4" in msg


@pytest.mark.parametrize("answer", [-1, True, "0", None])
def test_avqa_answer_not_an_index(avqa_dir: Path, answer):
    _avqa_error(avqa_dir, 0, lambda r: r.update(answer=answer))


def test_avqa_answer_points_at_null(avqa_dir: Path):
    msg = _avqa_error(avqa_dir, 0, lambda r: r.update(answer=2))
    assert "null" in msg


def test_avqa_missing_audio(avqa_dir: Path):
    (avqa_dir / "audio" / "a_b-c_d_000120.wav").unlink()
    msg = _avqa_error(avqa_dir, 1, lambda r: None)
    assert "a_b-c_d_000120.wav" in msg and "does not exist" in msg
    # Without the check the record is read.
    recs = read_avqa(avqa_dir / "train_qa.json", avqa_dir / "audio", "train", check_audio_exists=False).records
    assert len(recs) == 2


def test_avqa_malformed_video_name(avqa_dir: Path):
    msg = _avqa_error(avqa_dir, 0, lambda r: r.update(video_name="novideoname"))
    assert "novideoname" in msg


def test_avqa_duplicate_choices(avqa_dir: Path):
    msg = _avqa_error(avqa_dir, 1, lambda r: r.update(multi_choice=["piano", "piano", "violin", "drum"]))
    assert "duplicate" in msg


def test_avqa_not_a_list(tmp_path: Path):
    qa = tmp_path / "train_qa.json"
    qa.write_text(json.dumps({"id": 1}))
    with pytest.raises(RecordError, match="JSON list"):
        read_avqa(qa, tmp_path, "train")
    qa.write_text("[{")
    with pytest.raises(RecordError, match="cannot read"):
        read_avqa(qa, tmp_path, "train")
