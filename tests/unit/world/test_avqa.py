"""Tests of the AVQA writer: the real importer reads it, every kind is in train, truth matches."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from audioreason.datasets.avqa import read_avqa
from audioreason.world.scenes import KINDS


def test_avqa_reads_with_real_importer(world):
    train = read_avqa(world / "avqa" / "train_qa.json", world / "avqa" / "audio", "train").records
    val = read_avqa(world / "avqa" / "val_qa.json", world / "avqa" / "audio", "val").records
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
    assert set(raw[0]) == {
        "id",
        "video_name",
        "video_id",
        "question_text",
        "multi_choice",
        "answer",
        "question_relation",
        "question_type",
    }


def test_every_kind_in_train(world, truth):
    train = [t for t in truth if t["dataset"] == "avqa" and t["split"] == "train"]
    assert collections.Counter(t["kind"] for t in train) == {k.name: 2 for k in KINDS}  # 14 = 2 x 7 kinds
    # Ground truth agrees with the questions: same answers, in file order.
    raw = json.loads((world / "avqa" / "train_qa.json").read_text())
    assert [x["multi_choice"][x["answer"]] for x in raw] == [t["answer"] for t in train]
    assert [f"avqa/audio/{x['video_name']}.wav" for x in raw] == [t["clip"] for t in train]
