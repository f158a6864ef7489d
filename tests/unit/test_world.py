"""Tests of the synthetic audio world: determinism, real formats, audio properties."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioreason.config import WorldConfig
from audioreason.datasets.avqa import read_avqa
from audioreason.datasets.mmau import read_mmau
from audioreason.world.generator import KINDS, write_world

CFG = WorldConfig(seed=0, clip_seconds=1.0, avqa_sample_rate=32000, mmau_sample_rate=16000,
                  n_train=14, n_val=7, n_test_mini=9)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world_a")
    counts = write_world(out, CFG)
    assert counts == {"avqa_train": 14, "avqa_val": 7, "mmau_test_mini": 9, "clips": 30}
    return out


def test_layout(world):
    files = _digests(world)
    assert {"avqa/train_qa.json", "avqa/val_qa.json", "mmau/mmau-test-mini.json", "world/clips.jsonl"} <= set(files)
    wavs = [f for f in files if f.endswith(".wav")]
    assert sum(f.startswith("avqa/audio/") for f in wavs) == 14 + 7
    assert sum(f.startswith("mmau/test-mini-audios/") for f in wavs) == 9
    assert len(files) == 4 + 30


def test_same_seed_is_byte_identical(world, tmp_path):
    write_world(tmp_path, CFG)
    a, b = _digests(world), _digests(tmp_path)
    assert a.keys() == b.keys()
    assert a == b


def test_different_seed_differs(world, tmp_path):
    write_world(tmp_path, dataclasses.replace(CFG, seed=1))
    assert (tmp_path / "avqa" / "train_qa.json").read_bytes() != (world / "avqa" / "train_qa.json").read_bytes()
    assert (tmp_path / "mmau" / "mmau-test-mini.json").read_bytes() != (
        world / "mmau" / "mmau-test-mini.json"
    ).read_bytes()


def test_avqa_reads_with_real_importer(world):
    train = read_avqa(world / "avqa" / "train_qa.json", world / "avqa" / "audio", "train")
    val = read_avqa(world / "avqa" / "val_qa.json", world / "avqa" / "audio", "val")
    assert len(train) == 14 and len(val) == 7
    assert len({r.id for r in train + val}) == 21  # ids do not collide across splits
    for r in train + val:
        assert r.answer in r.choices
        assert "video" not in r.question.lower()  # audio variant
        assert Path(r.audio).is_file()
        assert len(r.extra["ytid"]) == 11
        assert r.extra["start_s"] % 10 == 0
        assert r.category in {"View", "Sound", "Both"}
    raw = json.loads((world / "avqa" / "train_qa.json").read_text())
    assert all(len(x["multi_choice"]) == 4 for x in raw)
    assert all("video" in x["question_text"] for x in raw)
    assert set(raw[0]) == {"id", "video_name", "video_id", "question_text", "multi_choice", "answer",
                           "question_relation", "question_type"}


def test_mmau_reads_with_real_importer(world):
    recs = read_mmau(world / "mmau" / "mmau-test-mini.json", world / "mmau")
    assert len(recs) == 9
    for r in recs:
        assert r.answer in r.choices
        assert len(r.choices) in (2, 3, 4)
        assert len(set(r.choices)) == len(r.choices)
        assert r.difficulty in {"easy", "medium", "hard"}
        assert r.category in {"Reasoning", "Information Extraction"}
        assert Path(r.audio).is_file()
    assert collections.Counter(r.task for r in recs) == {"sound": 3, "music": 3, "speech": 3}
    raw = json.loads((world / "mmau" / "mmau-test-mini.json").read_text())
    assert all(x["audio_id"] == f"./test-mini-audios/{x['id']}.wav" for x in raw)


def test_sample_rates_and_durations(world):
    for p in (world / "avqa" / "audio").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (32000, 1, 32000), p
    for p in (world / "mmau" / "test-mini-audios").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 16000), p


def test_clips_are_not_silent(world):
    for p in world.rglob("*.wav"):
        x, _ = sf.read(p, dtype="float64")
        rms_dbfs = 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)
        peak_dbfs = 20 * np.log10(np.abs(x).max())
        assert rms_dbfs > -50.0, p
        assert -13.0 < peak_dbfs < -2.5, p  # seeded loudness: -12..-3 dBFS peak


def test_every_kind_in_train(world):
    truth = [json.loads(line) for line in (world / "world" / "clips.jsonl").read_text().splitlines()]
    assert len(truth) == 30
    train = [t for t in truth if t["dataset"] == "avqa" and t["split"] == "train"]
    assert collections.Counter(t["kind"] for t in train) == {k.name: 2 for k in KINDS}  # 14 = 2 x 7 kinds
    # Ground truth agrees with the questions: same answers, in file order.
    raw = json.loads((world / "avqa" / "train_qa.json").read_text())
    assert [x["multi_choice"][x["answer"]] for x in raw] == [t["answer"] for t in train]
    assert [f"avqa/audio/{x['video_name']}.wav" for x in raw] == [t["clip"] for t in train]


def test_mmau_tasks_balanced_with_remainder(tmp_path):
    write_world(tmp_path, dataclasses.replace(CFG, n_train=1, n_val=1, n_test_mini=4))
    items = json.loads((tmp_path / "mmau" / "mmau-test-mini.json").read_text())
    assert collections.Counter(x["task"] for x in items) == {"music": 2, "sound": 1, "speech": 1}
