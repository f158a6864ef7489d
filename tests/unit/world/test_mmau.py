"""Tests of the MMAU writer: the real importer reads it, tasks are balanced."""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path

import numpy as np

from audioreason.datasets.mmau import read_mmau
from audioreason.world.mmau import write_mmau


def test_mmau_reads_with_real_importer(world):
    recs = read_mmau(world / "mmau" / "mmau-test-mini.json", world / "mmau").records
    assert len(recs) == 9
    for r in recs:
        assert r.answer in r.choices
        assert 2 <= len(r.choices) <= 8
        assert len(set(r.choices)) == len(r.choices)
        assert r.difficulty in {"easy", "medium", "hard"}
        assert r.category in {"Reasoning", "Information Extraction"}
        assert Path(r.audio).is_file()
    assert collections.Counter(r.task for r in recs) == {"sound": 3, "music": 3, "speech": 3}
    raw = json.loads((world / "mmau" / "mmau-test-mini.json").read_text())
    assert all(x["audio_id"] == f"./test-mini-audios/{x['id']}.wav" for x in raw)


def test_mmau_tasks_balanced_with_remainder(small_cfg, tmp_path):
    truth: list[dict] = []
    tasks = write_mmau(tmp_path, dataclasses.replace(small_cfg, n_test_mini=4), np.random.SeedSequence(0), truth)
    items = json.loads((tmp_path / "mmau" / "mmau-test-mini.json").read_text())
    assert collections.Counter(x["task"] for x in items) == tasks == {"music": 2, "sound": 1, "speech": 1}
    assert [t["clip"] for t in truth] == [f"mmau/test-mini-audios/{x['id']}.wav" for x in items]
