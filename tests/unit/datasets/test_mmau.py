"""Tests of the MMAU importer (FORMATS.md layout) on hand-made items and on the real test-mini file."""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path

import pytest

from audioreason.datasets.formats import read_dataset
from audioreason.datasets.mmau import file_sha256, read_mmau
from audioreason.datasets.records import QARecord, RecordError
from helpers import mmau_item, write_mmau, write_tone

REFERENCE_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "reference"
MMAU_TEST_MINI = REFERENCE_DIR / "mmau" / "mmau-test-mini.v05.15.25.json"
MMAU_TEST_MINI_SHA256 = "9f18fda99f8dbc2bc5ecd6323fb5063309f54969810b5c6f1caeb3b8d904cf1c"


@pytest.fixture()
def mmau_dir(tmp_path: Path) -> Path:
    return write_mmau(tmp_path / "mmau")


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
    item = mmau_item(1)
    del item["choices"]
    msg = _mmau_error(mmau_dir, 1, item)
    assert "missing" in msg and "choices" in msg


def test_mmau_answer_not_among_choices(mmau_dir: Path):
    msg = _mmau_error(mmau_dir, 2, mmau_item(2, answer="Dog"))
    assert "'Dog'" in msg and "not among the choices" in msg


@pytest.mark.parametrize("choices", [["Man"], "Man, Woman", ["Man", 2]])
def test_mmau_bad_choices(mmau_dir: Path, choices):
    msg = _mmau_error(mmau_dir, 0, mmau_item(0, choices=choices, answer="Man"))
    assert "choices" in msg


def test_mmau_missing_audio(mmau_dir: Path):
    item = mmau_item(0, id="not-on-disk", audio_id="./test-mini-audios/not-on-disk.wav")
    msg = _mmau_error(mmau_dir, 0, item)
    assert "not-on-disk.wav" in msg and "does not exist" in msg


def test_mmau_unknown_task(mmau_dir: Path):
    msg = _mmau_error(mmau_dir, 1, mmau_item(1, task="vision"))
    assert "'vision'" in msg and "task" in msg


def test_mmau_item_without_id_named_by_audio_id(mmau_dir: Path):
    item = mmau_item(0, answer="Dog")
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


# --------------------------------------------------------------------------- test-full: answers withheld


def _test_full_item(i: int, **overrides) -> dict:
    """One item of ``mmau-test.json`` as published: split ``test``, ``./test-audios/``, ``"answer": ""``."""
    ident = f"10000000-0000-4000-8000-00000000000{i}"
    item = mmau_item(i, id=ident, audio_id=f"./test-audios/{ident}.wav", split="test", answer="")
    item.update(overrides)
    return item


@pytest.fixture()
def test_full_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mmau"
    items = [_test_full_item(0), _test_full_item(1), _test_full_item(2)]
    del items[1]["answer"]  # absent and empty both mean withheld
    for it in items:
        write_tone(root / it["audio_id"], 16000)
    (root / "mmau-test.json").write_text(json.dumps(items, indent=4))
    return root


def test_test_full_answers_are_read_as_withheld(test_full_dir: Path):
    recs = read_mmau(test_full_dir / "mmau-test.json", test_full_dir).records
    assert [(r.split, r.answer, r.extra.get("answer_hidden")) for r in recs] == [("test", "", True)] * 3
    assert recs[0].audio == str((test_full_dir / "test-audios" / f"{recs[0].id}.wav").resolve())
    assert recs[0].choices == ("Man", "Woman", "Child", "Robot") and recs[0].task == "sound"


def test_test_full_split_comes_from_the_file_name_when_items_lack_it(test_full_dir: Path):
    items = json.loads((test_full_dir / "mmau-test.json").read_text())
    for it in items:
        del it["split"]
    (test_full_dir / "mmau-test.json").write_text(json.dumps(items))
    recs = read_dataset("mmau", test_full_dir / "mmau-test.json").records
    assert {(r.split, r.answer) for r in recs} == {("test", "")}
    # The same items under the test-mini name have no answer: refused.
    (test_full_dir / "mmau-test-mini.json").write_text(json.dumps(items))
    with pytest.raises(RecordError, match=r"#0 \(id .*answer '' is not among the choices"):
        read_dataset("mmau", test_full_dir / "mmau-test-mini.json")


@pytest.mark.parametrize("answer", ["", None])
def test_test_mini_item_without_answer_is_still_refused(mmau_dir: Path, answer):
    item = mmau_item(1, answer=answer)
    if answer is None:
        del item["answer"]
    msg = _mmau_error(mmau_dir, 1, item)
    assert ("not among the choices" in msg) if answer == "" else ("missing key(s) answer" in msg)


def test_test_full_item_with_a_wrong_answer_is_refused(test_full_dir: Path):
    path = test_full_dir / "mmau-test.json"
    items = json.loads(path.read_text())
    items[2]["answer"] = "Dog"
    path.write_text(json.dumps(items))
    with pytest.raises(RecordError, match="'Dog' is not among the choices"):
        read_mmau(path, test_full_dir)


def test_withheld_answers_pass_the_qa_suite_and_test_mini_ones_do_not(test_full_dir: Path, mmau_dir: Path):
    from audioreason.quality.expectations import ManifestRules, validate_manifest

    rules = ManifestRules(splits=["test", "test-mini"], difficulties=["easy"])
    hidden = read_mmau(test_full_dir / "mmau-test.json", test_full_dir).records
    assert validate_manifest(hidden, name="mmau_test", rules=rules).success
    # An empty answer without the importer's flag (a test-mini record edited after ingest) still fails.
    mini = [dataclasses.replace(r, answer="") for r in read_mmau(mmau_dir / "mmau-test-mini.json", mmau_dir).records]
    report = validate_manifest(mini, name="mmau_test_mini", rules=rules)
    assert [f["check"] for f in report.failures] == ["manifest.answer_in_choices"]
    assert report.failures[0]["rows"] == [0, 1, 2]
