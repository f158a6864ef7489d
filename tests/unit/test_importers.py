"""Tests of the AVQA and MMAU importers and of the JSONL manifest (FORMATS.md layouts)."""

from __future__ import annotations

import collections
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.datasets.avqa import read_avqa, split_video_name, to_audio_question
from audioreason.datasets.mmau import file_sha256, read_mmau
from audioreason.datasets.records import QARecord, RecordError, read_manifest, write_manifest

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
MMAU_TEST_MINI = REFERENCE_DIR / "mmau" / "mmau-test-mini.v05.15.25.json"
MMAU_TEST_MINI_SHA256 = "9f18fda99f8dbc2bc5ecd6323fb5063309f54969810b5c6f1caeb3b8d904cf1c"


def _wav(path: Path, sr: int, seconds: float = 0.25) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, subtype="PCM_16")


# --------------------------------------------------------------------------- AVQA fixtures

AVQA_RECORDS = [
    {
        "id": 7,
        "video_name": "-HG3Omg_89c_000030",
        "video_id": 1042,
        "question_text": "What is making the sound in the video?",
        "multi_choice": ["dog", "cat", None, "car"],
        "answer": 3,
        "question_relation": "Sound",
        "question_type": "Come From",
    },
    {
        "id": 8,
        "video_name": "a_b-c_d_000120",
        "video_id": 1043,
        "question_text": "Video shows what? Is the VIDEO loud? videos",
        "multi_choice": ["piano", "flute", "violin", "drum"],
        "answer": 0,
        "question_relation": "Both",
        "question_type": "Which",
    },
]


@pytest.fixture()
def avqa_dir(tmp_path: Path) -> Path:
    root = tmp_path / "avqa"
    for r in AVQA_RECORDS:
        _wav(root / "audio" / f"{r['video_name']}.wav", 32000)
    (root / "train_qa.json").write_text(json.dumps(AVQA_RECORDS, indent=1))
    return root


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


# --------------------------------------------------------------------------- MMAU fixtures


def _mmau_item(i: int, **overrides) -> dict:
    item = {
        "id": f"00000000-0000-4000-8000-00000000000{i}",
        "audio_id": f"./test-mini-audios/00000000-0000-4000-8000-00000000000{i}.wav",
        "question": "Which sound source can be heard in the audio?",
        "choices": ["Man", "Woman", "Child", "Robot"],
        "answer": "Woman",
        "dataset": "fixture",
        "task": ["sound", "music", "speech"][i % 3],
        "split": "test-mini",
        "category": "Reasoning",
        "sub-category": "Acoustic Source Inference",
        "difficulty": "easy",
    }
    item.update(overrides)
    return item


@pytest.fixture()
def mmau_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mmau"
    items = [_mmau_item(0), _mmau_item(1, category=["Information Extraction"]), _mmau_item(2)]
    # Key order varies between items in the real file.
    items[2] = dict(reversed(list(items[2].items())))
    for it in items:
        _wav(root / it["audio_id"], 16000)
    (root / "mmau-test-mini.json").write_text(json.dumps(items, indent=4))
    return root


def test_read_mmau(mmau_dir: Path):
    path = mmau_dir / "mmau-test-mini.json"
    recs = read_mmau(path, mmau_dir).records
    assert [r.task for r in recs] == ["sound", "music", "speech"]
    assert recs[0].id == "00000000-0000-4000-8000-000000000000"
    assert recs[0].answer == "Woman" and recs[0].answer_index == 1
    assert recs[0].choices == ("Man", "Woman", "Child", "Robot")
    assert recs[1].category == "Information Extraction"  # one-element list normalised
    assert recs[0].sub_category == "Acoustic Source Inference"
    assert recs[0].difficulty == "easy"
    assert recs[0].dataset == "mmau" and recs[0].split == "test-mini"
    assert recs[0].audio == str((mmau_dir / "test-mini-audios" / f"{recs[0].id}.wav").resolve())
    assert Path(recs[2].audio).is_file()
    assert recs[2].source == f"{path}#2"
    assert recs[0].extra == {"audio_id": f"./test-mini-audios/{recs[0].id}.wav", "dataset": "fixture"}


def _mmau_error(mmau_dir: Path, index: int, item: dict) -> str:
    items = json.loads((mmau_dir / "mmau-test-mini.json").read_text())
    items[index] = item
    path = mmau_dir / "broken.json"
    path.write_text(json.dumps(items))
    with pytest.raises(RecordError) as excinfo:
        read_mmau(path, mmau_dir)
    msg = str(excinfo.value)
    assert str(path) in msg
    assert f"#{index} (id {item.get('id', item.get('audio_id'))})" in msg
    return msg


def test_mmau_missing_choices(mmau_dir: Path):
    item = _mmau_item(1)
    del item["choices"]
    msg = _mmau_error(mmau_dir, 1, item)
    assert "missing" in msg and "choices" in msg


def test_mmau_answer_not_among_choices(mmau_dir: Path):
    msg = _mmau_error(mmau_dir, 2, _mmau_item(2, answer="Dog"))
    assert "'Dog'" in msg and "not among the choices" in msg


@pytest.mark.parametrize("choices", [["Man"], "Man, Woman", ["Man", 2]])
def test_mmau_bad_choices(mmau_dir: Path, choices):
    msg = _mmau_error(mmau_dir, 0, _mmau_item(0, choices=choices, answer="Man"))
    assert "choices" in msg


def test_mmau_missing_audio(mmau_dir: Path):
    item = _mmau_item(0, id="not-on-disk", audio_id="./test-mini-audios/not-on-disk.wav")
    msg = _mmau_error(mmau_dir, 0, item)
    assert "not-on-disk.wav" in msg and "does not exist" in msg


def test_mmau_unknown_task(mmau_dir: Path):
    msg = _mmau_error(mmau_dir, 1, _mmau_item(1, task="vision"))
    assert "'vision'" in msg and "task" in msg


def test_mmau_item_without_id_named_by_audio_id(mmau_dir: Path):
    item = _mmau_item(0, answer="Dog")
    del item["id"]  # older uploads have no id
    msg = _mmau_error(mmau_dir, 0, item)
    assert item["audio_id"] in msg


def test_mmau_not_a_list(tmp_path: Path):
    path = tmp_path / "m.json"
    path.write_text("{}")
    with pytest.raises(RecordError, match="JSON list"):
        read_mmau(path, tmp_path)


# --------------------------------------------------------------------------- the real MMAU file


@pytest.fixture(scope="module")
def real_mmau() -> list[QARecord]:
    if not MMAU_TEST_MINI.is_file():
        pytest.skip(f"MMAU test-mini reference file not found at {MMAU_TEST_MINI}")
    return read_mmau(MMAU_TEST_MINI, MMAU_TEST_MINI.parent, check_audio_exists=False).records


def test_real_mmau_counts(real_mmau):
    assert len(real_mmau) == 1000
    assert collections.Counter(r.task for r in real_mmau) == {"sound": 333, "music": 334, "speech": 333}
    assert len({r.id for r in real_mmau}) == 1000


def test_real_mmau_answers_in_choices(real_mmau):
    for r in real_mmau:
        assert r.answer in r.choices, r.id
        assert r.choices[r.answer_index] == r.answer
    assert {len(r.choices) for r in real_mmau} == {2, 4, 5, 8}


def test_real_mmau_categories_normalised(real_mmau):
    raw = json.loads(MMAU_TEST_MINI.read_text())
    listed = [i for i, item in enumerate(raw) if isinstance(item.get("category"), list)]
    assert len(listed) == 13
    for i in listed:
        assert real_mmau[i].category == raw[i]["category"][0]
        assert isinstance(real_mmau[i].category, str)
    assert {r.category for r in real_mmau} == {"Reasoning", "Information Extraction"}
    assert {r.difficulty for r in real_mmau} == {"easy", "medium", "hard"}
    assert len({r.sub_category for r in real_mmau}) == 27


def test_real_mmau_audio_paths(real_mmau):
    root = MMAU_TEST_MINI.parent.resolve()
    for r in real_mmau[:20]:
        assert r.audio == str(root / "test-mini-audios" / f"{r.id}.wav")


def test_real_mmau_sha256():
    if not MMAU_TEST_MINI.is_file():
        pytest.skip(f"MMAU test-mini reference file not found at {MMAU_TEST_MINI}")
    assert file_sha256(MMAU_TEST_MINI) == MMAU_TEST_MINI_SHA256


def test_real_mmau_missing_audio_is_reported():
    if not MMAU_TEST_MINI.is_file():
        pytest.skip(f"MMAU test-mini reference file not found at {MMAU_TEST_MINI}")
    with pytest.raises(RecordError) as excinfo:
        read_mmau(MMAU_TEST_MINI, MMAU_TEST_MINI.parent / "no-such-folder")
    assert "#0 (id " in str(excinfo.value) and "does not exist" in str(excinfo.value)


# --------------------------------------------------------------------------- manifest


def test_manifest_round_trip(tmp_path: Path, avqa_dir: Path, mmau_dir: Path):
    records = read_avqa(avqa_dir / "train_qa.json", avqa_dir / "audio", "train").records + read_mmau(
        mmau_dir / "mmau-test-mini.json", mmau_dir
    ).records
    path = tmp_path / "out" / "manifest.jsonl"
    assert write_manifest(records, path) == len(records)
    back = read_manifest(path)
    assert back == records
    assert [r.extra for r in back] == [r.extra for r in records]  # extra is not part of ==
    assert all(isinstance(r.choices, tuple) for r in back)
    # Deterministic bytes: writing the read-back records again gives the same file.
    again = tmp_path / "again.jsonl"
    write_manifest(back, again)
    assert again.read_bytes() == path.read_bytes()
    assert len(path.read_text().splitlines()) == len(records)


def test_manifest_unicode_and_blank_lines(tmp_path: Path):
    r = QARecord("1", "mmau", "test-mini", "/a.wav", "Qué suena? 音", ("perro", "gato"), "perro", task="sound")
    path = tmp_path / "m.jsonl"
    write_manifest([r], path)
    assert "Qué suena? 音" in path.read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert read_manifest(path) == [r]


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"id": "2", "dataset": "avqa"',  # truncated
        '{"id": "2"}',  # missing fields
        '{"unexpected": 1, "choices": []}',
        "123",
        "null",
    ],
)
def test_corrupt_manifest_line_names_the_line(tmp_path: Path, bad_line: str):
    r = QARecord("1", "avqa", "train", "/a.wav", "Q?", ("a", "b"), "a")
    path = tmp_path / "m.jsonl"
    write_manifest([r, r], path)
    lines = path.read_text().splitlines()
    lines.insert(1, bad_line)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError) as excinfo:
        read_manifest(path)
    assert "line 2" in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_manifest_line_that_is_a_json_string_names_the_line(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text('"abc"\n')
    with pytest.raises(RecordError) as excinfo:
        read_manifest(path)
    assert "line 1" in str(excinfo.value)
